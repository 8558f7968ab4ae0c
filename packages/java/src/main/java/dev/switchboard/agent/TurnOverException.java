package dev.switchboard.agent;

/**
 * TurnOverException is thrown by {@link Output#delta} once the turn is over
 * (cancelled, past its deadline, or finished): the handler should stop.
 */
public final class TurnOverException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  TurnOverException() {
    super("the turn is over: no more output is sent");
  }
}
