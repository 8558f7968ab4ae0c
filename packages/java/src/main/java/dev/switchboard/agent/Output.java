package dev.switchboard.agent;

import io.grpc.stub.StreamObserver;
import switchboard.v1.Agent.HandleTurnResponse;
import switchboard.v1.Agent.OutputDelta;

/**
 * Output streams a turn's reply to the orchestrator. It is safe to use from
 * any thread.
 */
public final class Output {
  private final StreamObserver<HandleTurnResponse> stream;
  private final StringBuilder text = new StringBuilder();
  private boolean closed;

  Output(StreamObserver<HandleTurnResponse> stream) {
    this.stream = stream;
  }

  /**
   * delta sends a piece of the reply; it throws {@link TurnOverException}
   * once the turn is over.
   */
  public void delta(String piece) {
    // The turn's stream is written under this lock only: a gRPC stream
    // takes one writer at a time, and the turn's end must not pass a delta.
    synchronized (this) {
      if (closed) throw new TurnOverException();
      text.append(piece);
      stream.onNext(HandleTurnResponse.newBuilder().setDelta(OutputDelta.newBuilder().setText(piece)).build());
    }
  }

  /** close stops any further output and returns the text streamed so far. */
  synchronized String close() {
    closed = true;
    return text.toString();
  }
}
