package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/signal"
	"syscall"
	"time"

	pb "github.com/switchboard-mesh/switchboard/packages/go/gen/switchboard/v1"
)

// Config is what Run needs to serve an agent.
type Config struct {
	// Card names the agent (required) and says its version and intents.
	Card *pb.AgentCard
	// Handler serves each turn.
	Handler Handler
	// Addr is the address to listen on (default "127.0.0.1:0": a free port).
	Addr string
	// Orchestrator is the URL of an orchestrator to register with, e.g.
	// "http://127.0.0.1:50051"; none: no registration.
	Orchestrator string
	// Endpoint is the URL the orchestrator reaches the agent at (default:
	// http://ADDR, with the port it listens on).
	Endpoint string
	// Token is the orchestrator's registration token, if it has one.
	Token string
	// Lease is the registration lease to ask for (default 30s).
	Lease time.Duration
	// Logger receives what happens; the default logger when nil.
	Logger *slog.Logger
	// Grace is how long running turns may finish on shutdown (default 5s).
	Grace time.Duration
}

// Run serves the agent until ctx ends or the process gets SIGINT or
// SIGTERM: it listens, reports SERVING, registers with cfg.Orchestrator
// (keeping the lease alive), and on the way out deregisters and lets
// running turns finish for up to cfg.Grace. It returns nil after such a
// stop, or the error that kept the agent from serving.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	srv, err := NewServer(Options{Card: cfg.Card, Handler: cfg.Handler, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("agent: listen on %s: %w", cfg.Addr, err)
	}
	url := "http://" + lis.Addr().String()
	if cfg.Endpoint == "" {
		cfg.Endpoint = url
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	cfg.Logger.Info("agent listening", "agent", cfg.Card.GetName(), "url", url)

	var registrar *Registrar
	if cfg.Orchestrator != "" {
		registrar, err = Register(Registration{
			Orchestrator: cfg.Orchestrator, Endpoint: cfg.Endpoint, Card: cfg.Card, Lease: cfg.Lease, Token: cfg.Token, Logger: cfg.Logger,
		})
		if err != nil {
			srv.Stop(0)
			return err
		}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	cfg.Logger.Info("agent shutting down", "agent", cfg.Card.GetName())
	if registrar != nil {
		// Leave the registry first, so no new turn is sent while the server stops.
		closing, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		registrar.Close(closing)
		cancel()
	}
	srv.Stop(cfg.Grace)
	return nil
}
