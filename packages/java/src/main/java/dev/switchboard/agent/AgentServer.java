package dev.switchboard.agent;

import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import switchboard.v1.Agent.AgentCard;
import switchboard.v1.AgentServiceGrpc;

/**
 * AgentServer is an agent's gRPC server that is listening:
 * switchboard.v1.AgentService, gRPC health and reflection.
 */
public final class AgentServer {
  private final AgentCard card;
  private final Server server;
  private final HealthStatusManager health;
  private final ExecutorService handlers;
  private final ScheduledExecutorService timers;
  private final String url;

  private AgentServer(AgentCard card, Server server, HealthStatusManager health, ExecutorService handlers,
      ScheduledExecutorService timers, String host) {
    this.card = card;
    this.server = server;
    this.health = health;
    this.handlers = handlers;
    this.timers = timers;
    this.url = "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + server.getPort();
  }

  /**
   * start serves {@code handler} as the agent {@code card} names on
   * host:port (port 0: a free one) and returns once it listens.
   */
  @SuppressWarnings("deprecation") // the v1alpha reflection service, which older tools still ask for
  public static AgentServer start(AgentCard card, Handler handler, String host, int port) throws IOException {
    if (card.getName().isEmpty()) throw new IllegalArgumentException("AgentServer: the card needs a name");
    ExecutorService handlers = Executors.newCachedThreadPool(daemons("switchboard-turn"));
    ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(daemons("switchboard-timer"));
    HealthStatusManager health = new HealthStatusManager();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress(host, port))
        .addService(new AgentService(card, handler, handlers, timers))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .addService(io.grpc.protobuf.services.ProtoReflectionService.newInstance())
        // The orchestrator keeps idle connections alive with PINGs; answer
        // them instead of closing the connection as too chatty.
        .permitKeepAliveTime(1, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .build()
        .start();
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(AgentServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
    return new AgentServer(card, server, health, handlers, timers, host);
  }

  /** card is the agent's card. */
  public AgentCard card() {
    return card;
  }

  /** port is the port the server listens on. */
  public int port() {
    return server.getPort();
  }

  /** url is the endpoint to give the orchestrator, e.g. "http://127.0.0.1:7001". */
  public String url() {
    return url;
  }

  /**
   * stop reports NOT_SERVING, lets running turns finish for up to
   * {@code grace}, then closes every stream.
   */
  public void stop(Duration grace) throws InterruptedException {
    health.enterTerminalState();
    server.shutdown();
    if (!server.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS)) server.shutdownNow();
    handlers.shutdownNow();
    timers.shutdownNow();
  }

  /** awaitTermination waits until the server has stopped. */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  private static ThreadFactory daemons(String name) {
    AtomicInteger n = new AtomicInteger();
    return task -> {
      Thread t = new Thread(task, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
