package dev.switchboard.agent;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;
import switchboard.v1.Agent.AgentCard;

/**
 * Agent runs an agent until the process is told to stop:
 *
 * <pre>{@code
 * Agent.run(card, handler, Agent.options().port(7001).orchestrator("http://127.0.0.1:50051"));
 * }</pre>
 */
public final class Agent {
  private static final Logger log = Logger.getLogger("dev.switchboard.agent");

  private Agent() {}

  /** options returns the defaults: 127.0.0.1, a free port, no registration. */
  public static Options options() {
    return new Options();
  }

  /**
   * run serves {@code handler} as the agent {@code card} names (with gRPC
   * health and reflection) until the process gets SIGTERM or SIGINT. With
   * an orchestrator it registers there and keeps its lease alive; on the
   * signal it deregisters, lets running turns finish, and returns, so the
   * program ends with status 0.
   */
  public static void run(AgentCard card, Handler handler, Options options) throws IOException, InterruptedException {
    AgentServer server = AgentServer.start(card, handler, options.host, options.port);
    log.info("agent " + card.getName() + " listening on " + server.url());
    Registrar registrar = options.orchestrator == null || options.orchestrator.isEmpty()
        ? null
        : Registrar.start(options.orchestrator, options.endpoint != null ? options.endpoint : server.url(), card,
            options.lease, options.token);
    // A signal handler rather than a shutdown hook: the hook would run with
    // the JVM already exiting (status 143), and could not return to main.
    CountDownLatch signalled = new CountDownLatch(1);
    for (String name : new String[] {"TERM", "INT"}) {
      sun.misc.Signal.handle(new sun.misc.Signal(name), s -> signalled.countDown());
    }
    signalled.await();
    log.info("agent " + card.getName() + " shutting down");
    // Leave the registry first, so no new turn is sent while the server stops.
    if (registrar != null) registrar.close();
    server.stop(options.grace);
  }

  /** Options say where an agent listens and where it registers. */
  public static final class Options {
    private String host = "127.0.0.1";
    private int port;
    private String orchestrator;
    private String endpoint;
    private String token = "";
    private Duration lease = Duration.ofSeconds(30);
    private Duration grace = Duration.ofSeconds(5);

    private Options() {}

    /** host is the address to listen on (default 127.0.0.1). */
    public Options host(String host) {
      this.host = host;
      return this;
    }

    /** port is the port to listen on (default 0: a free one). */
    public Options port(int port) {
      this.port = port;
      return this;
    }

    /** orchestrator is the URL to register with, e.g. "http://127.0.0.1:50051"; null or empty: none. */
    public Options orchestrator(String orchestrator) {
      this.orchestrator = orchestrator;
      return this;
    }

    /** endpoint is the URL the orchestrator reaches the agent at (default: its own). */
    public Options endpoint(String endpoint) {
      this.endpoint = endpoint;
      return this;
    }

    /** token is the orchestrator's registration token, if it has one. */
    public Options token(String token) {
      this.token = token;
      return this;
    }

    /** lease is the registration lease to ask for (default 30s). */
    public Options lease(Duration lease) {
      this.lease = lease;
      return this;
    }

    /** grace is how long running turns may finish on shutdown (default 5s). */
    public Options grace(Duration grace) {
      this.grace = grace;
      return this;
    }
  }
}
