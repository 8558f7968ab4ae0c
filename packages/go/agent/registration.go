package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/switchboard-mesh/switchboard/packages/go/gen/switchboard/v1"
)

// Registration says where and how an agent registers itself.
type Registration struct {
	// Orchestrator is the orchestrator's URL, e.g. "http://127.0.0.1:50051".
	Orchestrator string
	// Endpoint is where the orchestrator reaches this agent.
	Endpoint string
	// Card is the agent's card.
	Card *pb.AgentCard
	// Lease is the lease to ask for (default 30s).
	Lease time.Duration
	// Token is the registration token, when the orchestrator requires one.
	Token string
	// Logger receives what happens; the default logger when nil.
	Logger *slog.Logger
}

// Registrar keeps an agent registered: it registers, renews the lease with
// heartbeats at a third of the lease, registers again when the orchestrator
// has forgotten the instance, and retries with capped backoff when the
// orchestrator is unreachable or does not serve RegistryService (the agent
// keeps serving meanwhile: it can also be listed statically).
type Registrar struct {
	reg    Registration
	log    *slog.Logger
	conn   *grpc.ClientConn
	client pb.RegistryServiceClient
	stop   context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	instanceID string
}

// maxBackoff caps the wait between failed registration attempts.
const maxBackoff = 30 * time.Second

// Register starts keeping the agent registered in the background.
func Register(reg Registration) (*Registrar, error) {
	if reg.Lease <= 0 {
		reg.Lease = 30 * time.Second
	}
	if reg.Logger == nil {
		reg.Logger = slog.Default()
	}
	target, creds, err := dialTarget(reg.Orchestrator)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("orchestrator %q: %w", reg.Orchestrator, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	r := &Registrar{
		reg:    reg,
		log:    reg.Logger.With("orchestrator", reg.Orchestrator),
		conn:   conn,
		client: pb.NewRegistryServiceClient(conn),
		stop:   stop,
		done:   make(chan struct{}),
	}
	go r.run(ctx)
	return r, nil
}

// dialTarget turns an orchestrator URL into a gRPC target and credentials.
func dialTarget(orchestrator string) (string, credentials.TransportCredentials, error) {
	u, err := url.Parse(orchestrator)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", nil, fmt.Errorf("orchestrator %q is not an http:// or https:// URL (e.g. http://127.0.0.1:50051)", orchestrator)
	}
	if u.Scheme == "https" {
		return u.Host, credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}), nil
	}
	return u.Host, insecure.NewCredentials(), nil
}

// InstanceID returns the id the orchestrator gave this instance, or "" while
// it is not registered.
func (r *Registrar) InstanceID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.instanceID
}

func (r *Registrar) setInstanceID(id string) {
	r.mu.Lock()
	r.instanceID = id
	r.mu.Unlock()
}

func (r *Registrar) run(ctx context.Context) {
	defer close(r.done)
	backoff := time.Second
	for {
		var wait time.Duration
		if r.InstanceID() == "" {
			if err := r.register(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.log.Warn("registration failed; serving anyway, will retry", "code", status.Code(err).String(), "error", hint(err), "retry_in", backoff.String())
				wait = backoff
				backoff = min(backoff*2, maxBackoff)
			} else {
				backoff = time.Second
				wait = r.reg.Lease / 3
			}
		} else {
			wait = r.reg.Lease / 3
			if err := r.heartbeat(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				if status.Code(err) == codes.NotFound {
					// The lease ran out (or the orchestrator restarted): register anew.
					r.log.Warn("the orchestrator no longer knows this instance; registering again", "error", err.Error())
					r.setInstanceID("")
					wait = 0
				} else {
					r.log.Warn("heartbeat failed; will retry", "code", status.Code(err).String(), "error", hint(err))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (r *Registrar) register(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := r.client.Register(ctx, &pb.RegisterRequest{
		Card:     r.reg.Card,
		Endpoint: r.reg.Endpoint,
		Lease:    durationpb.New(r.reg.Lease),
		Token:    r.reg.Token,
	})
	if err != nil {
		return err
	}
	if granted := res.GetLease().AsDuration(); granted > 0 {
		r.reg.Lease = granted
	}
	r.setInstanceID(res.GetInstanceId())
	r.log.Info("registered", "instance_id", res.GetInstanceId(), "endpoint", r.reg.Endpoint, "lease", r.reg.Lease.String())
	return nil
}

func (r *Registrar) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := r.client.Heartbeat(ctx, &pb.HeartbeatRequest{InstanceId: r.InstanceID(), Token: r.reg.Token})
	return err
}

// Close stops the heartbeats and deregisters the instance, waiting at most
// until ctx ends.
func (r *Registrar) Close(ctx context.Context) {
	r.stop()
	<-r.done
	defer r.conn.Close()
	id := r.InstanceID()
	if id == "" {
		return
	}
	if _, err := r.client.Deregister(ctx, &pb.DeregisterRequest{InstanceId: id, Token: r.reg.Token}); err != nil {
		r.log.Warn("deregistration failed; the lease will expire on its own", "instance_id", id, "error", hint(err))
		return
	}
	r.log.Info("deregistered", "instance_id", id)
}

// hint explains the common failures in words an operator can act on.
func hint(err error) string {
	switch status.Code(err) {
	case codes.Unimplemented:
		return "the orchestrator does not serve switchboard.v1.RegistryService; list this agent in its configuration instead (--agent NAME=URL)"
	case codes.Unavailable:
		return "the orchestrator cannot be reached: " + status.Convert(err).Message()
	case codes.Unauthenticated, codes.PermissionDenied:
		return "the orchestrator refused the registration token: " + status.Convert(err).Message()
	default:
		return err.Error()
	}
}
