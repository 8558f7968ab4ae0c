package dev.switchboard.agent;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import switchboard.v1.Agent.InputDelta;
import switchboard.v1.Agent.TurnStart;

/**
 * Turn is what a {@link Handler} gets for one turn: its start message, its
 * deadline, and the input that follows when the user's input is streamed.
 */
public final class Turn {
  // Marks the end of the input; compared by identity.
  private static final InputDelta END = InputDelta.newBuilder().setFinal(true).build();

  private final TurnStart start;
  private final Instant deadline;
  // Unbounded by count, but a turn's input is bounded by the orchestrator's
  // limits; the reader must not wait on the handler, or it would miss a cancel.
  private final BlockingQueue<InputDelta> input = new LinkedBlockingQueue<>();
  private volatile boolean over;

  Turn(TurnStart start, Instant deadline) {
    this.start = start;
    this.deadline = deadline;
  }

  /** start is the turn's start message: session, stage, intent, input, state, history, budget. */
  public TurnStart start() {
    return start;
  }

  /** text is the user's words. */
  public String text() {
    return start.getInput().getText();
  }

  /** deadline is when the orchestrator stops waiting for the turn. */
  public Instant deadline() {
    return deadline;
  }

  /** remaining is the time left before the deadline. */
  public Duration remaining() {
    Duration left = Duration.between(Instant.now(), deadline);
    return left.isNegative() ? Duration.ZERO : left;
  }

  /** isOver tells whether the turn was cancelled, ran out of time, or finished. */
  public boolean isOver() {
    return over;
  }

  /**
   * nextInput waits for the next piece of streamed input; it is empty once
   * the orchestrator has sent all of it or the turn is over.
   */
  public Optional<InputDelta> nextInput() throws InterruptedException {
    if (over && input.isEmpty()) return Optional.empty();
    InputDelta next = input.take();
    if (next == END) {
      input.offer(END); // every later call sees the end too
      return Optional.empty();
    }
    return Optional.of(next);
  }

  void offer(InputDelta delta) {
    input.offer(delta);
  }

  void endInput() {
    input.offer(END);
  }

  void end() {
    over = true;
    endInput();
  }
}
