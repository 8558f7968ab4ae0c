// Command agent runs the sample Switchboard agent in Go:
//
//	go run . --port 7003 [--name go] [--orchestrator http://127.0.0.1:50051]
//
// It serves switchboard.v1.AgentService with gRPC health and reflection, and
// registers with the orchestrator when one is given.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/switchboard-mesh/switchboard/packages/go/agent"
	pb "github.com/switchboard-mesh/switchboard/packages/go/gen/switchboard/v1"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func run() error {
	host := flag.String("host", "127.0.0.1", "listen address")
	port := flag.Int("port", 0, "listen port (0: a free one)")
	name := flag.String("name", "go", "the agent's name: flows route to it by this name")
	orchestrator := flag.String("orchestrator", env("SWITCHBOARD_ORCHESTRATOR", ""), "orchestrator URL to register with (env SWITCHBOARD_ORCHESTRATOR); none: no registration")
	advertise := flag.String("advertise", "", "the URL the orchestrator reaches this agent at (default: http://HOST:PORT)")
	token := flag.String("registry-token", env("SWITCHBOARD_REGISTRY_TOKEN", ""), "registration token (env SWITCHBOARD_REGISTRY_TOKEN)")
	lease := flag.Float64("lease", 30, "the registration lease to ask for, in seconds")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("agent", *name)
	card := &pb.AgentCard{
		Name:        *name,
		Version:     "1.0.0",
		Description: "The sample Go agent: repeats what it hears, hands over on @name, ends on bye.",
		Intents:     []string{"chat"},
		Metadata:    map[string]string{"language": "go", "runtime": runtime.Version()},
	}
	srv, err := agent.NewServer(agent.Options{Card: card, Handler: sampleHandler(*name), Logger: log})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	bound := lis.Addr().(*net.TCPAddr).Port
	url := "http://" + net.JoinHostPort(*host, strconv.Itoa(bound))
	if *advertise == "" {
		*advertise = url
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	line, _ := json.Marshal(map[string]any{"msg": "agent listening", "agent": *name, "url": url, "port": bound})
	fmt.Println(string(line))

	var registrar *agent.Registrar
	if *orchestrator != "" {
		registrar, err = agent.Register(agent.Registration{
			Orchestrator: *orchestrator, Endpoint: *advertise, Card: card, Lease: time.Duration(*lease * float64(time.Second)), Token: *token, Logger: log,
		})
		if err != nil {
			return err
		}
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-served:
		return err
	case sig := <-signals:
		log.Info("shutting down", "signal", sig.String())
	}
	if registrar != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		registrar.Close(ctx)
		cancel()
	}
	srv.Stop(5 * time.Second)
	return nil
}
