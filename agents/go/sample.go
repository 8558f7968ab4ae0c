package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-mesh/switchboard/packages/go/agent"
	pb "github.com/switchboard-mesh/switchboard/packages/go/gen/switchboard/v1"
)

// mention is "@name": a request to hand the conversation to that agent.
var mention = regexp.MustCompile(`@([A-Za-z0-9][A-Za-z0-9._-]*)`)

var bye = regexp.MustCompile(`(?i)\bbye\b`)

// conformanceKey is the TurnStart metadata key the conformance kit sets;
// "slow" asks for a long, slowly streamed answer it can cancel or time out.
const conformanceKey = "switchboard.conformance"

// sampleHandler is the sample agent, the same in every language: it repeats
// what it hears, streaming word by word; it records in the session state
// what it received (so a conversation shows the state and transcript
// crossing languages); it hands the conversation to another agent named
// with "@name", and ends it on "bye".
func sampleHandler(name string) agent.Handler {
	return func(ctx context.Context, turn *agent.Turn, out *agent.Output) (*pb.AgentResult, error) {
		start := turn.Start
		if start.GetMetadata()[conformanceKey] == "slow" {
			return slowTurn(ctx, out)
		}
		said := strings.TrimSpace(turn.Text())
		from := start.GetHandoffFrom()
		reply := fmt.Sprintf("%s heard: %s", name, said)
		if from != "" {
			reply = fmt.Sprintf("%s here, taking over from %s. You said: %s", name, from, said)
		}
		for i, word := range strings.Split(reply, " ") {
			if i > 0 {
				word = " " + word
			}
			if err := out.Delta(word); err != nil {
				return nil, err
			}
		}

		state := start.GetState().AsMap()
		keys := make([]any, 0, len(state))
		for k := range state {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].(string) < keys[j].(string) })
		turns := 1.0
		if mine, ok := state[name].(map[string]any); ok {
			if n, ok := mine["turns"].(float64); ok {
				turns = n + 1
			}
		}
		servedBy, _ := state["served_by"].([]any)
		patch, err := structpb.NewStruct(map[string]any{
			name: map[string]any{
				"turns":        turns,
				"language":     "go",
				"history":      float64(len(start.GetHistory())),
				"last_message": lastMessage(start.GetHistory()),
				"handoff_from": from,
				"state_keys":   keys,
			},
			"served_by": append(servedBy, name),
		})
		if err != nil {
			return nil, err
		}

		next := &pb.NextAction{Action: pb.Action_ACTION_ADVANCE}
		if m := mention.FindStringSubmatch(said); m != nil && m[1] != name && from == "" {
			next = &pb.NextAction{Action: pb.Action_ACTION_HANDOFF, TargetAgent: m[1]}
		} else if bye.MatchString(said) {
			next = &pb.NextAction{Action: pb.Action_ACTION_END}
		}
		return &pb.AgentResult{StatePatch: patch, Next: next}, nil
	}
}

// lastMessage describes the newest transcript entry, e.g. "python: ...".
func lastMessage(history []*pb.TranscriptEntry) string {
	if len(history) == 0 {
		return ""
	}
	last := history[len(history)-1]
	who := last.GetAgent()
	if who == "" {
		who = strings.ToLower(strings.TrimPrefix(last.GetRole().String(), "ROLE_"))
	}
	return who + ": " + last.GetText()
}

// slowTurn streams a tick every 50ms for up to 30s, stopping as soon as
// the turn is cancelled or its deadline passes.
func slowTurn(ctx context.Context, out *agent.Output) (*pb.AgentResult, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 1; i <= 600; i++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		if err := out.Delta(fmt.Sprintf("tick %d. ", i)); err != nil {
			return nil, err
		}
	}
	return &pb.AgentResult{Next: &pb.NextAction{Action: pb.Action_ACTION_ADVANCE}}, nil
}
