import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { type SendTurnResponse, SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { type Session, StepKind, StepSchema, StepStatus, type Step } from "../gen/switchboard/v1/session_pb.js";
import type { TurnInput } from "../gen/switchboard/v1/turn_pb.js";
import { agentCallFactsOf, codeName } from "./errors.js";
import type { SessionStore } from "./ports.js";
import type { TurnPlan } from "./turn-plan.js";
import type { TurnEvents } from "./turn-events.js";

/**
 * Answer is what a response says besides the session it commits: the
 * reply, who gave it, and how the turn went.
 */
export type Answer = Pick<
  MessageInitShape<typeof SendTurnResponseSchema>,
  "output" | "agent" | "stageCompleted" | "isComplete" | "interrupted"
>;

/**
 * NewVersion is one version about to be committed, with the answer to the
 * caller that goes with it.
 */
export interface NewVersion {
  /** The session after the change; its version is `expectedVersion + 1`. */
  session: Session;
  expectedVersion: bigint;
  /** Why the version exists: "turn" or "interruption". */
  reason: "turn" | "interruption";
  steps: Step[];
  /** The turn's id (the client's or a made-up one). */
  turnId: string;
  /** The client's turn id, under which the result is kept for replay; empty keeps none. */
  replayId: string;
  answer: Answer;
}

/**
 * commitVersion is the one place a session changes: it asks the listeners
 * where the steps' events stand, builds the response, and commits the
 * version with it (compare-and-set on `expectedVersion`).
 */
export async function commitVersion(store: SessionStore, events: TurnEvents, v: NewVersion): Promise<SendTurnResponse> {
  const positions = events.storing({ steps: v.steps });
  v.steps.forEach((step, i) => {
    const d = positions.details[i];
    if (d !== undefined && Object.keys(d).length > 0) step.details = { ...step.details, ...d };
  });
  if (positions.lastSeq > v.session.lastSeq) v.session.lastSeq = positions.lastSeq;
  const result = create(SendTurnResponseSchema, {
    ...v.answer,
    sessionId: v.session.id,
    turnId: v.turnId,
    nextStage: v.session.stage,
    session: v.session,
  });
  await store.commit({
    session: v.session,
    expectedVersion: v.expectedVersion,
    reason: v.reason,
    steps: v.steps,
    ...(v.replayId !== "" ? { turn: { turnId: v.replayId, result } } : {}),
  });
  return result;
}

/**
 * repliesOf joins the replies of a turn's agent calls (parallel branches
 * are in their stage's joined reply).
 */
export function repliesOf(steps: readonly Step[], more: string[] = []): string {
  return [...steps.filter((s) => s.kind !== StepKind.BRANCH).map((s) => s.output), ...more].filter((o) => o !== "").join("\n");
}

/**
 * FailedTurn is what is known about a turn that failed, for its record.
 */
export interface FailedTurn {
  session: Session;
  turnId: string;
  plan: TurnPlan | undefined;
  input: TurnInput;
  error: ConnectError;
  startedAt: Date;
  now: Date;
}

/**
 * recordFailure stores the step of a failed turn in the audit trail, best
 * effort: it tells whether the record was stored.
 */
export async function recordFailure(store: SessionStore, events: TurnEvents, f: FailedTurn): Promise<boolean> {
  const call = agentCallFactsOf(f.error);
  const step = create(StepSchema, {
    sessionId: f.session.id,
    version: f.session.version,
    turnId: f.turnId,
    kind: StepKind.TURN,
    stage: f.plan?.stage.name ?? f.session.stage,
    intent: f.plan?.intent ?? f.input.intent,
    input: f.input,
    agent: call?.agent || (f.plan?.agent ?? ""),
    ...(call !== undefined
      ? {
          instance: call.instance,
          attempts: call.attempts,
          latency: durationFromMs(Math.round(call.latencyMs)),
          breaker: call.breaker,
          output: call.output,
        }
      : {}),
    status: StepStatus.FAILED,
    nextStage: f.session.stage,
    error: { code: codeName(f.error.code), message: f.error.rawMessage },
    startTime: timestampFromDate(f.startedAt),
    endTime: timestampFromDate(f.now),
  });
  const details = events.storing({ steps: [step] }).details[0];
  if (details !== undefined) step.details = { ...step.details, ...details };
  try {
    await store.recordFailure(step);
    return true;
  } catch {
    // The audit record of a failure is best effort: the caller still gets
    // the turn's own error, which matters more than the store's.
    return false;
  }
}
