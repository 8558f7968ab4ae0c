package dev.switchboard.agent;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import switchboard.v1.Agent.AgentCard;
import switchboard.v1.Registry.DeregisterRequest;
import switchboard.v1.Registry.HeartbeatRequest;
import switchboard.v1.Registry.RegisterRequest;
import switchboard.v1.Registry.RegisterResponse;
import switchboard.v1.RegistryServiceGrpc;

/**
 * Registrar keeps an agent registered with an orchestrator: it registers,
 * renews the lease with heartbeats at a third of the lease, registers again
 * when the orchestrator has forgotten the instance, and retries with capped
 * backoff when the orchestrator is unreachable (the agent keeps serving
 * meanwhile: it can also be listed statically). {@link #close} deregisters.
 */
public final class Registrar implements AutoCloseable {
  private static final Logger log = Logger.getLogger("dev.switchboard.agent.registration");
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
  private static final long CALL_TIMEOUT_MS = 5000;

  private final String orchestrator;
  private final String endpoint;
  private final AgentCard card;
  private final String token;
  private final ManagedChannel channel;
  private final RegistryServiceGrpc.RegistryServiceBlockingStub registry;
  private final ScheduledExecutorService timer;
  private Duration lease;
  private Duration backoff = Duration.ofSeconds(1);
  private volatile String instanceId;
  private volatile boolean closed;

  private Registrar(String orchestrator, String endpoint, AgentCard card, Duration lease, String token) {
    URI url = URI.create(orchestrator);
    boolean tls = "https".equals(url.getScheme());
    if (!(tls || "http".equals(url.getScheme())) || url.getHost() == null) {
      throw new IllegalArgumentException(
          "orchestrator " + orchestrator + " is not an http:// or https:// URL (e.g. http://127.0.0.1:50051)");
    }
    ChannelCredentials credentials = tls ? TlsChannelCredentials.create() : InsecureChannelCredentials.create();
    int port = url.getPort() != -1 ? url.getPort() : tls ? 443 : 80;
    this.orchestrator = orchestrator;
    this.endpoint = endpoint;
    this.card = card;
    this.lease = lease;
    this.token = token == null ? "" : token;
    this.channel = Grpc.newChannelBuilderForAddress(url.getHost(), port, credentials).build();
    this.registry = RegistryServiceGrpc.newBlockingStub(channel);
    this.timer = Executors.newSingleThreadScheduledExecutor(task -> {
      Thread t = new Thread(task, "switchboard-registration");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * start keeps the agent registered in the background: with the
   * orchestrator at {@code orchestrator} (e.g. "http://127.0.0.1:50051"),
   * reachable at {@code endpoint}, asking for {@code lease}.
   */
  public static Registrar start(String orchestrator, String endpoint, AgentCard card, Duration lease, String token) {
    Registrar r = new Registrar(orchestrator, endpoint, card, lease, token);
    r.timer.execute(r::tick);
    return r;
  }

  /** instanceId is the id the orchestrator gave this instance, while it is registered. */
  public Optional<String> instanceId() {
    return Optional.ofNullable(instanceId);
  }

  private void tick() {
    if (closed) return;
    Duration wait = lease.dividedBy(3);
    if (instanceId == null) {
      try {
        register();
        backoff = Duration.ofSeconds(1);
        wait = lease.dividedBy(3);
      } catch (StatusRuntimeException e) {
        log.warning("registration with " + orchestrator + " failed; serving anyway, will retry in " + backoff + ": " + hint(e));
        wait = backoff;
        backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
      }
    } else {
      try {
        registry.withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)
            .heartbeat(HeartbeatRequest.newBuilder().setInstanceId(instanceId).setToken(token).build());
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
          // The lease ran out (or the orchestrator restarted): register anew.
          log.warning("the orchestrator no longer knows this instance; registering again");
          instanceId = null;
          wait = Duration.ZERO;
        } else {
          log.warning("heartbeat failed; will retry: " + hint(e));
        }
      }
    }
    if (!closed) timer.schedule(this::tick, wait.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void register() {
    com.google.protobuf.Duration asked = com.google.protobuf.Duration.newBuilder()
        .setSeconds(lease.getSeconds()).setNanos(lease.getNano()).build();
    RegisterResponse res = registry.withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS).register(
        RegisterRequest.newBuilder().setCard(card).setEndpoint(endpoint).setLease(asked).setToken(token).build());
    if (res.hasLease()) {
      Duration granted = Duration.ofSeconds(res.getLease().getSeconds(), res.getLease().getNanos());
      if (!granted.isZero() && !granted.isNegative()) lease = granted;
    }
    instanceId = res.getInstanceId();
    log.info("registered as " + instanceId + " (endpoint " + endpoint + ", lease " + lease + ")");
  }

  /** close stops the heartbeats and deregisters the instance. */
  @Override
  public void close() {
    closed = true;
    timer.shutdownNow();
    try {
      timer.awaitTermination(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS);
      String id = instanceId;
      if (id != null) {
        registry.withDeadlineAfter(2000, TimeUnit.MILLISECONDS)
            .deregister(DeregisterRequest.newBuilder().setInstanceId(id).setToken(token).build());
        log.info("deregistered " + id);
      }
    } catch (StatusRuntimeException e) {
      log.warning("deregistration failed; the lease will expire on its own: " + hint(e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      channel.shutdownNow();
    }
  }

  private static String hint(StatusRuntimeException e) {
    Status s = e.getStatus();
    return switch (s.getCode()) {
      case UNIMPLEMENTED -> "the orchestrator does not serve switchboard.v1.RegistryService; list this agent in its configuration instead (--agent NAME=URL)";
      case UNAVAILABLE -> "the orchestrator cannot be reached: " + s.getDescription();
      case UNAUTHENTICATED, PERMISSION_DENIED -> "the orchestrator refused the registration token: " + s.getDescription();
      default -> s.getCode() + ": " + s.getDescription();
    };
  }
}
