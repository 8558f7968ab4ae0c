import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type SessionEvent, SessionEventSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { type Step, StepKind, StepStatus } from "../gen/switchboard/v1/session_pb.js";

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
// boundaries or audio, which only the in-memory window keeps. Steps without
// `seq_` details (rollbacks, forks) have no events. Each committed version
// also records the session's last seq (`Session.last_seq`), so a replica
// that has not served the session learns where its history stands from the
// latest version, not from the whole trail (see stored-history.ts for which
// stored events are history).

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

/** seqDetail reads one of a step's `seq_` details. */
export function seqDetail(step: Step, key: string): bigint | undefined {
  const v = step.details[key];
  if (v === undefined || !/^\d{1,19}$/.test(v)) return undefined;
  return BigInt(v);
}

/**
 * turnHopEvents are the events of a stored turn's agent calls with seq in
 * (after, upTo]: each reply as one chunk of text. A turn that failed keeps
 * none (its partial output was never stored), and an amendment after a
 * barge-in has only its end event.
 */
export function turnHopEvents(steps: readonly Step[], ids: EventIds, after: bigint, upTo: bigint): SessionEvent[] {
  const last = steps[steps.length - 1];
  if (last === undefined || last.status === StepStatus.FAILED || last.kind === StepKind.INTERRUPTION) return [];
  const out: SessionEvent[] = [];
  for (const step of steps) {
    const hop = hopOfStep(step);
    if (hop !== undefined) out.push(...hopEvents(hop, ids, after, upTo));
  }
  return out;
}
