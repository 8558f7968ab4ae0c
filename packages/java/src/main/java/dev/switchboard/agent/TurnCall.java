package dev.switchboard.agent;

import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import switchboard.v1.Agent.AgentCard;
import switchboard.v1.Agent.HandleTurnRequest;
import switchboard.v1.Agent.HandleTurnResponse;
import switchboard.v1.Agent.TurnStart;
import switchboard.v1.Turn.AgentResult;

/**
 * TurnCall is one HandleTurn stream: it reads the start, runs the handler on
 * a thread of its own, and ends the turn at once when a CancelTurn arrives,
 * the caller goes away, or the earlier of the gRPC deadline and
 * start.budget passes. A handler that ignores the interruption is left
 * behind, and its output goes nowhere.
 */
final class TurnCall implements StreamObserver<HandleTurnRequest> {
  private static final Logger log = Logger.getLogger("dev.switchboard.agent");

  private final AgentCard card;
  private final Handler handler;
  private final ServerCallStreamObserver<HandleTurnResponse> responses;
  private final ExecutorService handlers;
  private final ScheduledExecutorService timers;
  private final Deadline callDeadline;
  // Also the lock of the stream: every write and the turn's end go through it.
  private final Output out;

  private boolean started;
  private boolean finished;
  private Turn turn;
  private Future<?> work;
  private ScheduledFuture<?> expiry;

  TurnCall(
      AgentCard card,
      Handler handler,
      ServerCallStreamObserver<HandleTurnResponse> responses,
      ExecutorService handlers,
      ScheduledExecutorService timers,
      Deadline callDeadline) {
    this.card = card;
    this.handler = handler;
    this.responses = responses;
    this.handlers = handlers;
    this.timers = timers;
    this.callDeadline = callDeadline;
    this.out = new Output(responses);
    responses.setOnCancelHandler(() -> end(null, false));
  }

  @Override
  public void onNext(HandleTurnRequest request) {
    Turn current;
    synchronized (out) {
      if (finished) return;
      if (!started) {
        start(request);
        return;
      }
      current = turn;
    }
    switch (request.getKindCase()) {
      case INPUT -> current.offer(request.getInput());
      case CANCEL -> {
        String reason = request.getCancel().getReason();
        end(Status.CANCELLED.withDescription(
            "the orchestrator cancelled the turn: " + (reason.isEmpty() ? "no reason given" : reason)), false);
      }
      default -> { }
    }
  }

  @Override
  public void onError(Throwable t) {
    // The caller cancelled the stream or it broke: nobody is left to answer.
    end(null, false);
  }

  @Override
  public void onCompleted() {
    synchronized (out) {
      if (finished) return;
      if (!started) {
        finished = true;
        responses.onError(Status.INVALID_ARGUMENT
            .withDescription("the HandleTurn stream ended before its first message; send `start` first")
            .asRuntimeException());
        return;
      }
      turn.endInput();
    }
  }

  /** start begins the turn; called under the lock with the stream's first message. */
  private void start(HandleTurnRequest first) {
    if (first.getKindCase() != HandleTurnRequest.KindCase.START) {
      finished = true;
      responses.onError(Status.INVALID_ARGUMENT
          .withDescription("the first message of a HandleTurn stream must be `start`, got `" + kindName(first) + "`")
          .asRuntimeException());
      return;
    }
    started = true;
    TurnStart start = first.getStart();
    // The turn's time: the earlier of the gRPC deadline and start.budget.
    long timeoutMs = Long.MAX_VALUE;
    String why = null;
    if (callDeadline != null) {
      timeoutMs = callDeadline.timeRemaining(TimeUnit.MILLISECONDS);
      why = "the turn's deadline passed";
    }
    long budgetMs = start.hasBudget() ? start.getBudget().getSeconds() * 1000 + start.getBudget().getNanos() / 1_000_000 : 0;
    if (budgetMs > 0 && budgetMs <= timeoutMs) {
      timeoutMs = budgetMs;
      why = "the turn's budget of " + budgetMs + "ms ran out";
    }
    Instant deadline = why == null ? Instant.now().plus(Duration.ofDays(1)) : Instant.now().plusMillis(timeoutMs);
    turn = new Turn(start, deadline);
    if (why != null) {
      Status status = Status.DEADLINE_EXCEEDED.withDescription(why);
      expiry = timers.schedule(() -> end(status, false), Math.max(0, timeoutMs), TimeUnit.MILLISECONDS);
    }
    work = handlers.submit(this::runHandler);
  }

  private void runHandler() {
    AgentResult result;
    try {
      result = handler.handle(turn, out);
    } catch (TurnOverException | InterruptedException e) {
      // The turn ended first, and has been answered.
      end(Status.CANCELLED.withDescription("the handler stopped: " + e.getMessage()), true);
      return;
    } catch (StatusRuntimeException | StatusException e) {
      end(Status.fromThrowable(e), true);
      return;
    } catch (Throwable e) {
      log.warning("agent " + card.getName() + ": the handler failed in session " + turn.start().getSessionId() + ": " + e);
      end(Status.INTERNAL.withDescription("agent " + card.getName() + " failed: " + e).withCause(e), true);
      return;
    }
    synchronized (out) {
      if (finished) return;
      finished = true;
      String text = out.close();
      turn.end();
      if (expiry != null) expiry.cancel(false);
      AgentResult answer = result == null ? AgentResult.getDefaultInstance() : result;
      if (answer.getText().isEmpty()) answer = answer.toBuilder().setText(text).build();
      responses.onNext(HandleTurnResponse.newBuilder().setResult(answer).build());
      responses.onCompleted();
    }
  }

  /**
   * end ends the turn once: no more output, the handler interrupted (unless
   * this is its own thread), and the stream closed with the status (none
   * when the caller is gone).
   */
  private void end(Status status, boolean fromHandler) {
    synchronized (out) {
      if (finished) return;
      finished = true;
      out.close();
      if (turn != null) turn.end();
      if (expiry != null) expiry.cancel(false);
      if (work != null && !fromHandler) work.cancel(true);
      if (status == null) return;
      if (turn != null && status.getCode() != Status.Code.INTERNAL) {
        log.info("turn ended early: " + status.getDescription() + " (session " + turn.start().getSessionId() + ", turn "
            + turn.start().getTurnId() + ")");
      }
      responses.onError(status.asRuntimeException());
    }
  }

  private static String kindName(HandleTurnRequest request) {
    return switch (request.getKindCase()) {
      case INPUT -> "input";
      case CANCEL -> "cancel";
      default -> "nothing";
    };
  }
}
