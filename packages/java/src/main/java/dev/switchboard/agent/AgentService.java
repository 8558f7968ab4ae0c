package dev.switchboard.agent;

import io.grpc.Context;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import switchboard.v1.Agent.AgentCard;
import switchboard.v1.Agent.DescribeRequest;
import switchboard.v1.Agent.DescribeResponse;
import switchboard.v1.Agent.HandleTurnRequest;
import switchboard.v1.Agent.HandleTurnResponse;
import switchboard.v1.AgentServiceGrpc;

/** AgentService serves switchboard.v1.AgentService from one handler. */
final class AgentService extends AgentServiceGrpc.AgentServiceImplBase {
  private final AgentCard card;
  private final Handler handler;
  private final ExecutorService handlers;
  private final ScheduledExecutorService timers;

  AgentService(AgentCard card, Handler handler, ExecutorService handlers, ScheduledExecutorService timers) {
    this.card = card;
    this.handler = handler;
    this.handlers = handlers;
    this.timers = timers;
  }

  @Override
  public void describe(DescribeRequest request, StreamObserver<DescribeResponse> responses) {
    responses.onNext(DescribeResponse.newBuilder().setCard(card).build());
    responses.onCompleted();
  }

  @Override
  public StreamObserver<HandleTurnRequest> handleTurn(StreamObserver<HandleTurnResponse> responses) {
    return new TurnCall(card, handler, (ServerCallStreamObserver<HandleTurnResponse>) responses, handlers, timers,
        Context.current().getDeadline());
  }
}
