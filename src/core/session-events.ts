import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type SendTurnResponse,
  SendTurnResponseSchema,
  type SessionEvent,
  SessionEventSchema,
} from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus, type Step, StepKind, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import type { SessionStore } from "./ports.js";

// How sequence numbers map onto the audit trail
// ----------------------------------------------
// Every event of a session's history gets a sequence number (seq) one above
// the previous event's, except an output chunk, which advances it by the
// length of its text in code points (1 when it carries no text, e.g. audio
// only). So, like a TCP sequence number, a seq inside a reply names a point
// in its text, and a reply rebuilt as one chunk can be cut exactly where a
// resuming client stopped reading.
//
// When a turn is stored, each of its steps (one per agent call) records in
// `details` the seqs of its events: `seq_accepted`, `seq_output_end` (the
// last output chunk), `seq_textless` (where chunks without text sat, rare),
// `seq_transition`, and on the turn's last step `seq_end` (its completed,
// interrupted or failed event). From those and the step's output, any
// replica can rebuild the events after any seq — without the per-chunk
// boundaries or audio, which only the in-memory window keeps — and learn
// the session's last seq. Steps without `seq_` details (rollbacks, forks)
// have no events.

/**
 * codePoints counts the Unicode code points of a string: the unit of
 * `heard_chars` and of output sequence numbers.
 */
export function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * prefixCodePoints returns the first `n` code points of a string.
 */
export function prefixCodePoints(s: string, n: number): string {
  if (n <= 0) return "";
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    if (count === n) return s.slice(0, i);
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    count++;
  }
  return s;
}

/**
 * outputWeight is how far an output chunk advances the sequence: the code
 * points of its text, or 1 for a chunk without text.
 */
export function outputWeight(text: string): number {
  return text === "" ? 1 : codePoints(text);
}

/**
 * HopLog is the record of one agent call's events with their sequence
 * numbers: what a step stores in its `seq_` details, and what the server
 * keeps of a running turn.
 */
export interface HopLog {
  stage: string;
  agent: string;
  acceptedSeq: bigint;
  /** The reply text as streamed (or as heard, for an interrupted step). */
  text: string;
  /** Runs of chunks without text: [position after acceptedSeq, count]. */
  textless: Array<[number, number]>;
  /** The seq of the last output chunk; acceptedSeq when there was none. */
  outputEnd: bigint;
  transition?: { seq: bigint; from: string; to: string };
}

/**
 * newHop starts the log of an agent call whose accepted event got `seq`.
 */
export function newHop(stage: string, agent: string, seq: bigint): HopLog {
  return { stage, agent, acceptedSeq: seq, text: "", textless: [], outputEnd: seq };
}

/**
 * addOutput records an output chunk published at `seq` in its hop.
 */
export function addOutput(hop: HopLog, text: string, seq: bigint): void {
  if (text !== "") {
    hop.text += text;
  } else {
    const rel = Number(seq - hop.acceptedSeq);
    const last = hop.textless[hop.textless.length - 1];
    if (last !== undefined && last[0] + last[1] === rel) last[1]++;
    else hop.textless.push([rel, 1]);
  }
  hop.outputEnd = seq;
}

/**
 * textOffset maps a seq inside a hop's output to the code points of its
 * text that come at or before it.
 */
function textOffset(hop: HopLog, seq: bigint): number {
  if (seq <= hop.acceptedSeq) return 0;
  const rel = Number((seq > hop.outputEnd ? hop.outputEnd : seq) - hop.acceptedSeq);
  let textless = 0;
  for (const [at, count] of hop.textless) {
    if (at > rel) break;
    textless += Math.min(count, rel - at + 1);
  }
  return rel - textless;
}

/**
 * hopEvents rebuilds the events of a hop whose seq is in (after, upTo]. The
 * output comes back as one chunk holding the text the client has not seen.
 */
export function hopEvents(hop: HopLog, ids: EventIds, after: bigint, upTo: bigint): SessionEvent[] {
  const out: SessionEvent[] = [];
  if (hop.acceptedSeq > after && hop.acceptedSeq <= upTo) {
    out.push(event(ids, hop.acceptedSeq, { case: "accepted", value: { stage: hop.stage, agent: hop.agent } }));
  }
  if (hop.outputEnd > hop.acceptedSeq && hop.outputEnd > after && upTo > hop.acceptedSeq) {
    const end = hop.outputEnd < upTo ? hop.outputEnd : upTo;
    const from = textOffset(hop, after);
    const to = textOffset(hop, end);
    const text = prefixCodePoints(hop.text, to).slice(prefixCodePoints(hop.text, from).length);
    if (text !== "") out.push(event(ids, end, { case: "output", value: { text, agent: hop.agent } }));
  }
  const t = hop.transition;
  if (t !== undefined && t.seq > after && t.seq <= upTo) {
    out.push(event(ids, t.seq, { case: "transition", value: { from: t.from, to: t.to } }));
  }
  return out;
}

/**
 * lastSeqOf returns the highest seq a hop used.
 */
export function lastSeqOf(hop: HopLog): bigint {
  return hop.transition !== undefined ? hop.transition.seq : hop.outputEnd;
}

/**
 * EventIds are the session and turn an event belongs to.
 */
export interface EventIds {
  sessionId: string;
  turnId: string;
}

/**
 * EventKind is the payload of a SessionEvent, as a plain object.
 */
export type EventKind = NonNullable<MessageInitShape<typeof SessionEventSchema>["kind"]>;

/**
 * event builds a SessionEvent.
 */
export function event(ids: EventIds, seq: bigint, kind: EventKind): SessionEvent {
  return create(SessionEventSchema, { seq, sessionId: ids.sessionId, turnId: ids.turnId, kind });
}

/**
 * hopDetails is what a step stores about its hop's events; `endSeq` is set
 * on a turn's last step.
 */
export function hopDetails(hop: HopLog | undefined, endSeq: bigint | undefined): Record<string, string> {
  const d: Record<string, string> = {};
  if (hop !== undefined) {
    d["seq_accepted"] = hop.acceptedSeq.toString();
    if (hop.outputEnd > hop.acceptedSeq) d["seq_output_end"] = hop.outputEnd.toString();
    if (hop.textless.length > 0) {
      d["seq_textless"] = hop.textless.map(([at, n]) => (n === 1 ? `${at}` : `${at}*${n}`)).join(",");
    }
    if (hop.transition !== undefined) d["seq_transition"] = hop.transition.seq.toString();
  }
  if (endSeq !== undefined) d["seq_end"] = endSeq.toString();
  return d;
}

/**
 * hopOfStep reads back the hop a step recorded, if it recorded one.
 */
export function hopOfStep(step: Step): HopLog | undefined {
  const accepted = seqDetail(step, "seq_accepted");
  if (accepted === undefined) return undefined;
  const textless: Array<[number, number]> = [];
  for (const part of (step.details["seq_textless"] ?? "").split(",")) {
    if (part === "") continue;
    const [at, n] = part.split("*");
    textless.push([Number(at), n === undefined ? 1 : Number(n)]);
  }
  const transition = seqDetail(step, "seq_transition");
  return {
    stage: step.stage,
    agent: step.agent,
    acceptedSeq: accepted,
    text: step.output,
    textless,
    outputEnd: seqDetail(step, "seq_output_end") ?? accepted,
    ...(transition !== undefined ? { transition: { seq: transition, from: step.stage, to: step.nextStage } } : {}),
  };
}

/**
 * stepLastSeq returns the highest seq a step recorded, or 0.
 */
export function stepLastSeq(step: Step): bigint {
  let max = 0n;
  for (const key of ["seq_accepted", "seq_output_end", "seq_transition", "seq_end"]) {
    const v = seqDetail(step, key);
    if (v !== undefined && v > max) max = v;
  }
  return max;
}

function seqDetail(step: Step, key: string): bigint | undefined {
  const v = step.details[key];
  if (v === undefined || !/^\d{1,19}$/.test(v)) return undefined;
  return BigInt(v);
}

/**
 * StoredPosition is how far a session's stored history goes: the highest
 * seq and the highest version its audit trail records.
 */
export interface StoredPosition {
  lastSeq: bigint;
  version: bigint;
}

/**
 * storedPosition reads a session's audit trail to find its last seq and
 * version: what a replica that has not served the session needs to number
 * its next events. It reads the whole trail, a page at a time.
 */
export async function storedPosition(store: SessionStore, sessionId: string): Promise<StoredPosition> {
  let lastSeq = 0n;
  let version = 0n;
  for await (const step of allSteps(store, sessionId)) {
    if (step.version > version) version = step.version;
    const last = stepLastSeq(step);
    if (last > lastSeq) lastSeq = last;
  }
  return { lastSeq, version };
}

/**
 * storedEvents rebuilds a session's events with seq in (after, upTo] from
 * its audit trail, reading it a page at a time as the caller consumes the
 * events. Failed turns come back as their `failed` event only (their
 * partial output was never stored); audio and chunk boundaries are not
 * stored, so a reply comes back as one chunk of text.
 */
export async function* storedEvents(
  store: SessionStore,
  sessionId: string,
  after: bigint,
  upTo: bigint,
): AsyncGenerator<SessionEvent> {
  let turn: Step[] = [];
  for await (const step of allSteps(store, sessionId)) {
    const last = stepLastSeq(step);
    if (last === 0n) continue;
    if (turn.length > 0 && turn[0]?.turnId !== step.turnId) turn = [];
    turn.push(step);
    const end = seqDetail(step, "seq_end");
    if (end === undefined) continue;
    if (last > after) yield* await turnEvents(store, sessionId, turn, end, after, upTo);
    turn = [];
    if (last >= upTo) return;
  }
}

async function* allSteps(store: SessionStore, sessionId: string): AsyncGenerator<Step> {
  let token = "";
  do {
    const page = await store.listSteps(sessionId, { pageSize: 1000, pageToken: token });
    yield* page.items;
    token = page.nextPageToken;
  } while (token !== "");
}

async function turnEvents(
  store: SessionStore,
  sessionId: string,
  steps: Step[],
  end: bigint,
  after: bigint,
  upTo: bigint,
): Promise<SessionEvent[]> {
  const last = steps[steps.length - 1] as Step;
  const ids = { sessionId, turnId: last.turnId };
  if (last.status === StepStatus.FAILED) {
    if (end <= after || end > upTo) return [];
    return [event(ids, end, { case: "failed", value: { code: last.error?.code ?? "unknown", message: last.error?.message ?? "" } })];
  }
  const out: SessionEvent[] = [];
  if (last.kind !== StepKind.INTERRUPTION) {
    for (const step of steps) {
      const hop = hopOfStep(step);
      if (hop !== undefined) out.push(...hopEvents(hop, ids, after, upTo));
    }
  }
  if (end <= after || end > upTo) return out;
  const snapshot = await store.snapshot(sessionId, last.version);
  const session = snapshot?.session;
  const interrupted = steps.some((s) => s.status === StepStatus.INTERRUPTED);
  const result: SendTurnResponse = create(SendTurnResponseSchema, {
    sessionId,
    turnId: last.turnId,
    output: steps.map((s) => s.output).filter((o) => o !== "").join("\n"),
    agent: last.agent,
    stageCompleted: last.stage,
    nextStage: session?.stage ?? last.nextStage,
    isComplete: session?.status === SessionStatus.COMPLETED,
    interrupted,
    ...(session !== undefined ? { session } : {}),
  });
  if (!interrupted) {
    out.push(event(ids, end, { case: "completed", value: { result } }));
  } else {
    out.push(
      event(ids, end, {
        case: "interrupted",
        value: {
          heard: steps.map((s) => s.output).join(""),
          heardMs: Number(last.details["heard_ms"] ?? 0),
          result,
          afterCompletion: last.kind === StepKind.INTERRUPTION,
        },
      }),
    );
  }
  return out;
}
