import type { Step } from "../../../src/gen/switchboard/v1/session_pb.js";
import { splitHeard, type Transcript, type TurnView } from "../live-transcript.js";

/**
 * TranscriptView shows the conversation as its events tell it: each turn's
 * input (from the audit trail), the agent's reply as it streams, the stage
 * moves, and where a barge-in cut the reply.
 */
export function TranscriptView({ transcript, steps }: { transcript: Transcript; steps: Step[] }) {
  const inputs = new Map<string, string>();
  for (const s of steps) {
    const input = s.input;
    if (input === undefined || inputs.has(s.turnId)) continue;
    const said = input.text !== "" ? input.text : input.event !== undefined ? `(event ${input.event.type})` : input.intent !== "" ? `(intent ${input.intent})` : "";
    if (said !== "") inputs.set(s.turnId, said);
  }
  if (transcript.turns.length === 0) return <p class="empty">No turns yet.</p>;
  return (
    <ol class="transcript" aria-label="Transcript">
      {transcript.turns.map((t) => (
        <TurnItem turn={t} input={inputs.get(t.turnId)} />
      ))}
    </ol>
  );
}

function TurnItem({ turn, input }: { turn: TurnView; input: string | undefined }) {
  return (
    <li class={`turn turn-${turn.state}`} data-turn={turn.turnId} data-state={turn.state}>
      <p class="meta">
        Turn <code>{turn.turnId}</code> at stage <strong>{turn.stage || "—"}</strong>, agent <strong>{turn.agent || "—"}</strong>: {turn.state}
      </p>
      {input !== undefined && (
        <p class="said user">
          <span class="who">User:</span> {input}
        </p>
      )}
      {turn.state === "interrupted" || turn.parts.length <= 1 ? (
        <p class="said agent">
          <span class="who">{turn.agent || "Agent"}:</span> <Reply turn={turn} />
        </p>
      ) : (
        turn.parts.map((p) => (
          <p class="said agent">
            <span class="who">{p.agent || "Agent"}:</span> <span class="reply" data-testid="reply-part">{p.text}</span>
          </p>
        ))
      )}
      {turn.state === "failed" && (
        <p class="error" role="note">
          Failed: {turn.error}
        </p>
      )}
      {turn.transitions.map((m) => (
        <p class="transition" data-from={m.from} data-to={m.to}>
          Stage <strong>{m.from}</strong> → <strong>{m.to}</strong>
        </p>
      ))}
    </li>
  );
}

function Reply({ turn }: { turn: TurnView }) {
  if (turn.state !== "interrupted" || turn.heardChars === undefined) {
    return <span class="reply" data-testid="reply">{turn.text}</span>;
  }
  const [heard, unheard] = splitHeard(turn.text, turn.heardChars);
  return (
    <span class="reply" data-testid="reply">
      <span class="heard">{heard}</span>
      <mark class="barge-in" data-heard-chars={String(turn.heardChars)} aria-label={`barge-in: the user cut in after ${turn.heardChars} characters`}>
        ⟂ barge-in
      </mark>
      {unheard !== "" && <del class="unheard" aria-label="not heard">{unheard}</del>}
    </span>
  );
}
