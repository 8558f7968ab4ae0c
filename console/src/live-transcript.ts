import type { SessionEvent } from "../../src/gen/switchboard/v1/orchestrator_pb.js";

/**
 * TurnView is one turn of the transcript as the session's events tell it.
 */
export interface TurnView {
  turnId: string;
  /** The seq of the turn's first event applied (0 for a turn known only from an answer without a seq). */
  firstSeq: bigint;
  stage: string;
  agent: string;
  /** The reply as streamed so far: every output chunk, in order. */
  text: string;
  /** The reply split by the agent that spoke it (a turn can chain stages served by different agents). */
  parts: Array<{ agent: string; text: string }>;
  state: "running" | "completed" | "interrupted" | "failed";
  /** For an interrupted turn: the code points of `text` the user heard. */
  heardChars?: number;
  /** For a failed turn: why. */
  error?: string;
  /** Stage moves of the turn, in order. */
  transitions: Array<{ from: string; to: string }>;
}

/**
 * Transcript is the state the session view keeps from WatchSession: the
 * turns in the order they began, and the last sequence number applied, so
 * a reconnect resumes after it.
 */
export interface Transcript {
  turns: TurnView[];
  lastSeq: bigint;
}

/**
 * emptyTranscript is a transcript before any event.
 */
export const emptyTranscript: Transcript = { turns: [], lastSeq: 0n };

/**
 * applyEvent returns the transcript after one event. Events with seq 0
 * answer a stream and are not part of the history; an event at or below
 * the last seq applied is a duplicate from a resume and changes nothing.
 */
export function applyEvent(t: Transcript, e: SessionEvent): Transcript {
  if (e.seq !== 0n && e.seq <= t.lastSeq) return t;
  const lastSeq = e.seq === 0n ? t.lastSeq : e.seq;
  const kind = e.kind;
  if (kind.case === undefined || kind.case === "opened" || kind.case === "rejected" || kind.case === "takenOver") {
    return { ...t, lastSeq };
  }
  const turns = [...t.turns];
  let i = turns.findIndex((x) => x.turnId === e.turnId);
  if (i < 0) {
    turns.push({ turnId: e.turnId, firstSeq: e.seq, stage: "", agent: "", text: "", parts: [], state: "running", transitions: [] });
    i = turns.length - 1;
  }
  const turn = { ...(turns[i] as TurnView) };
  switch (kind.case) {
    case "accepted":
      // A turn that chains stages is announced once per stage; it is
      // shown at the stage it began in.
      if (turn.stage === "") turn.stage = kind.value.stage;
      if (turn.agent === "") turn.agent = kind.value.agent;
      break;
    case "output": {
      turn.text += kind.value.text;
      if (kind.value.agent !== "") turn.agent = kind.value.agent;
      const last = turn.parts[turn.parts.length - 1];
      turn.parts =
        last !== undefined && (kind.value.agent === "" || kind.value.agent === last.agent)
          ? [...turn.parts.slice(0, -1), { agent: last.agent, text: last.text + kind.value.text }]
          : [...turn.parts, { agent: turn.agent, text: kind.value.text }];
      break;
    }
    case "transition":
      turn.transitions = [...turn.transitions, { from: kind.value.from, to: kind.value.to }];
      break;
    case "completed":
      turn.state = "completed";
      // A replayed turn (a resume rebuilt from the audit trail) may carry
      // its reply only in the result.
      if (turn.agent === "") turn.agent = kind.value.result?.agent ?? "";
      if (turn.text === "") {
        turn.text = kind.value.result?.output ?? "";
        turn.parts = [{ agent: turn.agent, text: turn.text }];
      }
      break;
    case "interrupted": {
      turn.state = "interrupted";
      const heard = kind.value.heard;
      // The reply streamed so far starts with what was heard; when the
      // events of the reply were not all seen, what was heard is the text.
      if (!turn.text.startsWith(heard)) {
        turn.text = heard;
        turn.parts = [{ agent: turn.agent, text: heard }];
      }
      turn.heardChars = [...heard].length;
      break;
    }
    case "failed":
      turn.state = "failed";
      turn.error = `${kind.value.code}: ${kind.value.message}`;
      break;
  }
  turns[i] = turn;
  return { turns, lastSeq };
}

/**
 * rewindTo returns the transcript as it stood at `seq`: without the turns
 * that began after it. A watch that ends because the replica running a
 * turn died (or the run it showed was withdrawn) says to watch again from
 * the seq before that turn: the turn is not part of the session's history
 * unless the replay brings it back, and the session's next turn numbers
 * its events from there.
 */
export function rewindTo(t: Transcript, seq: bigint): Transcript {
  if (seq >= t.lastSeq) return t;
  return { turns: t.turns.filter((turn) => turn.firstSeq <= seq), lastSeq: seq };
}

/**
 * splitHeard cuts a reply at the heard offset (in code points): what the
 * user heard, and what they did not.
 */
export function splitHeard(text: string, heardChars: number): [string, string] {
  const chars = [...text];
  return [chars.slice(0, heardChars).join(""), chars.slice(heardChars).join("")];
}
