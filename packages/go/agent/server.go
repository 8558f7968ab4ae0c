// Package agent serves a switchboard.v1.AgentService from a Handler: it
// turns each HandleTurn stream into one Handler call with a context that ends
// when the orchestrator cancels the turn or its deadline passes, streams the
// handler's output, and serves gRPC health and reflection beside it.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	pb "github.com/switchboard-mesh/switchboard/packages/go/gen/switchboard/v1"
)

// Turn is what a Handler gets for one turn.
type Turn struct {
	// Start is the turn's start message: session, stage, intent, input,
	// state, history, budget.
	Start *pb.TurnStart
	// Input yields more input when the user's input is streamed
	// (Start.InputStreaming); it is closed when the orchestrator has sent all
	// of it.
	Input <-chan *pb.InputDelta
}

// Text returns the user's words.
func (t *Turn) Text() string { return t.Start.GetInput().GetText() }

// Output streams a turn's reply to the orchestrator.
type Output struct {
	mu     sync.Mutex
	closed bool
	text   []byte
	send   func(*pb.HandleTurnResponse) error
}

// Delta sends a piece of the reply. It fails once the turn is over
// (cancelled, past its deadline, or finished), so a handler can stop there.
func (o *Output) Delta(text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return errTurnOver
	}
	o.text = append(o.text, text...)
	return o.send(&pb.HandleTurnResponse{Kind: &pb.HandleTurnResponse_Delta{Delta: &pb.OutputDelta{Text: text}}})
}

// close stops any further output and returns the text streamed so far.
func (o *Output) close() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	return string(o.text)
}

var errTurnOver = errors.New("the turn is over: no more output is sent")

// Handler serves one turn. It streams its reply with out.Delta and returns
// the final result (whose Text may be left empty: it becomes the streamed
// text). ctx ends when the orchestrator cancels the turn (CancelTurn or a
// cancelled stream) or when the turn's budget runs out; the handler should
// return then, and whatever it returns is discarded.
type Handler func(ctx context.Context, turn *Turn, out *Output) (*pb.AgentResult, error)

// Options describe an agent server.
type Options struct {
	Card    *pb.AgentCard
	Handler Handler
	Logger  *slog.Logger
}

// Server is an agent's gRPC server: AgentService, health and reflection.
type Server struct {
	pb.UnimplementedAgentServiceServer
	opts   Options
	grpc   *grpc.Server
	health *health.Server
}

// NewServer makes an agent server; Serve starts it.
func NewServer(opts Options) (*Server, error) {
	if opts.Card.GetName() == "" {
		return nil, errors.New("agent: the card needs a name")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, grpc: grpc.NewServer(), health: health.NewServer()}
	pb.RegisterAgentServiceServer(s.grpc, s)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	return s, nil
}

// Serve reports SERVING and serves on the listener until Stop.
func (s *Server) Serve(lis net.Listener) error {
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(pb.AgentService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s.grpc.Serve(lis)
}

// Stop reports NOT_SERVING, lets running turns finish for up to grace, then
// closes every stream.
func (s *Server) Stop(grace time.Duration) {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		s.grpc.Stop()
	}
}

// Describe returns the agent's card.
func (s *Server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	return &pb.DescribeResponse{Card: s.opts.Card}, nil
}

// turnEnd says why a turn's context ended.
type turnEnd struct {
	code    codes.Code
	message string
}

func (e *turnEnd) Error() string { return e.message }

// HandleTurn serves one turn: it reads the start, runs the handler, and
// stops at once when a CancelTurn arrives, the stream is cancelled, or the
// earlier of the gRPC deadline and start.budget passes.
func (s *Server) HandleTurn(stream grpc.BidiStreamingServer[pb.HandleTurnRequest, pb.HandleTurnResponse]) error {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return status.Error(codes.InvalidArgument, "the HandleTurn stream ended before its first message; send `start` first")
	}
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return status.Errorf(codes.InvalidArgument, "the first message of a HandleTurn stream must be `start`, got `%s`", kindName(first))
	}

	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	if b := start.GetBudget(); b != nil && b.AsDuration() > 0 {
		budget := b.AsDuration()
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, budget, &turnEnd{codes.DeadlineExceeded, fmt.Sprintf("the turn's budget of %s ran out", budget)})
		defer stop()
	}

	// The rest of the request stream: input for the handler, and a cancel
	// that ends the turn's context.
	input := make(chan *pb.InputDelta, 64)
	go func() {
		defer close(input)
		for {
			req, err := stream.Recv()
			if err != nil {
				return
			}
			switch k := req.GetKind().(type) {
			case *pb.HandleTurnRequest_Input:
				select {
				case input <- k.Input:
				case <-ctx.Done():
					return
				}
			case *pb.HandleTurnRequest_Cancel:
				reason := k.Cancel.GetReason()
				if reason == "" {
					reason = "no reason given"
				}
				cancel(&turnEnd{codes.Canceled, "the orchestrator cancelled the turn: " + reason})
				return
			}
		}
	}()

	out := &Output{send: stream.Send}
	type outcome struct {
		result *pb.AgentResult
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{err: status.Errorf(codes.Internal, "agent %s panicked: %v", s.opts.Card.GetName(), p)}
			}
		}()
		res, err := s.opts.Handler(ctx, &Turn{Start: start, Input: input}, out)
		done <- outcome{res, err}
	}()

	// Wait for the handler, but never past the end of the turn: a handler
	// that ignores ctx is left behind, and its output goes nowhere.
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
	}
	text := out.close()
	if ctx.Err() != nil {
		err := endStatus(ctx)
		s.opts.Logger.Info("turn ended early", "session", start.GetSessionId(), "turn", start.GetTurnId(), "code", status.Code(err).String(), "reason", status.Convert(err).Message())
		return err
	}
	if o.err != nil {
		if _, ok := status.FromError(o.err); ok {
			return o.err
		}
		return status.Errorf(codes.Internal, "agent %s failed: %v", s.opts.Card.GetName(), o.err)
	}
	res := o.result
	if res == nil {
		res = &pb.AgentResult{}
	}
	if res.GetText() == "" {
		res.Text = text
	}
	return stream.Send(&pb.HandleTurnResponse{Kind: &pb.HandleTurnResponse_Result{Result: res}})
}

// endStatus is the status a turn whose context ended answers with.
func endStatus(ctx context.Context) error {
	var end *turnEnd
	if errors.As(context.Cause(ctx), &end) {
		return status.Error(end.code, end.message)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "the turn's deadline passed")
	}
	return status.Error(codes.Canceled, "the turn was cancelled")
}

func kindName(req *pb.HandleTurnRequest) string {
	switch req.GetKind().(type) {
	case *pb.HandleTurnRequest_Input:
		return "input"
	case *pb.HandleTurnRequest_Cancel:
		return "cancel"
	default:
		return "nothing"
	}
}
