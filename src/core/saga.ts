import { create } from "@bufbuild/protobuf";
import { copyMessage } from "./copy-message.js";
import { durationFromMs, durationMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import {
  type Session,
  SessionSchema,
  SessionStatus,
  type Step,
  StepKind,
  StepSchema,
  StepStatus,
} from "../gen/switchboard/v1/session_pb.js";
import { TurnInputSchema, type TurnInput } from "../gen/switchboard/v1/turn_pb.js";
import { codeName } from "./errors.js";
import { findStage } from "./flow.js";
import { flowProgram } from "./flow-program.js";
import type { AgentInvoker } from "./ports.js";
import { leaveStage, noteAgent, noteTurn, summarize } from "./tally.js";
import { applyPatch, enterStage } from "./turn.js";
import type { TurnPlan } from "./turn-plan.js";

/**
 * SagaDeps are the ports compensation needs.
 */
export interface SagaDeps {
  invoker: AgentInvoker;
  now: () => Date;
  /** The budget of a compensating call when its stage sets no timeout. */
  defaultTimeoutMs: number;
}

/**
 * StageFailureFacts describe a stage's terminal failure.
 */
export interface StageFailureFacts {
  flow: Flow;
  /** The session as it was when the stage failed (earlier stages of the turn applied). */
  session: Session;
  plan: TurnPlan;
  error: ConnectError;
  turnId: string;
  /** The version the outcome commits. */
  version: bigint;
  input: TurnInput;
  startedAt: Date;
  ttlMs: number;
  /** Whether an earlier stage of this turn already counted the turn. */
  counted: boolean;
  /**
   * violation checks the flow's invariants on a state, returning what is
   * violated. The outcome is committed whatever it says (the compensations
   * happened), but a session whose state breaks an invariant ends as failed.
   */
  violation?: (session: Session) => string | undefined;
}

/**
 * FailureOutcome is the committed outcome of a stage's terminal failure.
 */
export interface FailureOutcome {
  session: Session;
  /** The failed stage's step, then one step per compensation, newest stage first. */
  steps: Step[];
  /** What the compensating agents said. */
  output: string;
}

/**
 * failStage turns a stage's terminal failure into a committed outcome, as
 * its `on_failure` says: with `compensate`, the compensations owed by the
 * completed stages run newest first (a failed compensation is recorded and
 * the others still run); then the session goes to `on_failure.to`, or ends
 * as failed with a summary. Stages that completed earlier in the same turn
 * stay applied (their work happened, and they are compensated too). Compensations run on their own signal: once
 * started, a saga is not abandoned because the caller went away.
 */
export async function failStage(deps: SagaDeps, facts: StageFailureFacts): Promise<FailureOutcome> {
  const { flow, plan, error } = facts;
  const stage = plan.stage;
  const onFailure = stage.onFailure;
  const session = copyMessage(SessionSchema, facts.session);
  const now = () => deps.now();
  const steps: Step[] = [
    create(StepSchema, {
      sessionId: session.id,
      version: facts.version,
      turnId: facts.turnId,
      kind: StepKind.TURN,
      stage: stage.name,
      intent: plan.intent,
      input: facts.input,
      agent: plan.agent,
      status: StepStatus.FAILED,
      nextStage: session.stage,
      error: { code: codeName(error.code), message: error.rawMessage },
      startTime: timestampFromDate(facts.startedAt),
      endTime: timestampFromDate(now()),
      details: { on_failure: onFailure?.to ? `to ${onFailure.to}` : "end" },
    }),
  ];
  if (!facts.counted) noteTurn(session);
  const outputs: string[] = [];
  const compensated: string[] = [];
  const uncompensated: string[] = [];
  if (onFailure?.compensate) {
    const owed = [...session.compensations].reverse();
    session.compensations = [];
    for (const owe of owed) {
      const started = now();
      const owner = findStage(flow, owe.stage);
      const timeoutMs = owner?.timeout ? durationMs(owner.timeout) : deps.defaultTimeoutMs;
      const input = create(TurnInputSchema, { intent: owe.intent });
      const base = {
        sessionId: session.id,
        version: facts.version,
        turnId: facts.turnId,
        kind: StepKind.COMPENSATION,
        stage: owe.stage,
        intent: owe.intent,
        input,
        agent: owe.agent,
        startTime: timestampFromDate(started),
        details: { compensates_turn: owe.turnId, compensates_version: owe.version.toString(), failed_stage: stage.name },
      };
      try {
        const outcome = await deps.invoker.invoke({
          agent: owe.agent,
          start: create(TurnStartSchema, {
            sessionId: session.id,
            turnId: facts.turnId,
            accountId: session.accountId,
            flowId: flow.id,
            stage: owe.stage,
            intent: owe.intent,
            input,
            state: session.state ?? {},
            history: session.history,
            budget: durationFromMs(Math.round(timeoutMs)),
            attempt: 1,
            metadata: { compensates_turn: owe.turnId, failed_stage: stage.name, failure: error.rawMessage },
          }),
          signal: new AbortController().signal,
          timeoutMs,
          onDelta: () => {},
        });
        session.state = applyPatch(session.state ?? {}, outcome.result.statePatch);
        if (outcome.result.text !== "") outputs.push(outcome.result.text);
        noteAgent(session, owe.agent);
        compensated.push(owe.stage);
        steps.push(
          create(StepSchema, {
            ...base,
            instance: outcome.instance,
            attempts: outcome.attempts,
            status: StepStatus.OK,
            latency: durationFromMs(Math.round(outcome.latencyMs)),
            output: outcome.result.text,
            ...(outcome.result.statePatch ? { statePatch: outcome.result.statePatch } : {}),
            nextStage: session.stage,
            endTime: timestampFromDate(now()),
          }),
        );
      } catch (e) {
        const err = ConnectError.from(e);
        uncompensated.push(owe.stage);
        steps.push(
          create(StepSchema, {
            ...base,
            status: StepStatus.FAILED,
            error: { code: codeName(err.code), message: err.rawMessage },
            nextStage: session.stage,
            endTime: timestampFromDate(now()),
          }),
        );
      }
    }
  }
  const at = now();
  let outcome = `failed at stage ${stage.name}: ${error.rawMessage}`;
  if (compensated.length > 0) outcome += `; compensated: ${compensated.join(", ")}`;
  if (uncompensated.length > 0) outcome += `; compensation failed: ${uncompensated.join(", ")}`;
  session.waiting = undefined;
  let moved = false;
  if (onFailure?.to) {
    leaveStage(session, at);
    try {
      flowProgram(flow).probe?.taken(stage.name, "on_failure");
      const to = enterStage(flow, session, onFailure.to);
      if (to !== session.stage) session.previousStage = session.stage;
      session.stage = to;
      session.status = SessionStatus.ACTIVE;
      const entered = findStage(flow, to);
      if (entered?.waitReason) {
        session.status = SessionStatus.WAITING;
        session.waiting = { $typeName: "switchboard.v1.Waiting", reason: entered.waitReason, stage: to, since: timestampFromDate(at) };
      }
      moved = true;
    } catch (e) {
      outcome += `; could not go to ${onFailure.to}: ${ConnectError.from(e).rawMessage}`;
    }
  }
  const violated = facts.violation?.(session);
  if (violated !== undefined) {
    outcome += `; ${violated}`;
    moved = false;
    session.waiting = undefined;
  }
  if (!moved) {
    session.status = SessionStatus.FAILED;
    session.summary = summarize(session, outcome, at);
  }
  const first = steps[0];
  if (first !== undefined) first.nextStage = session.stage;
  session.version = facts.version;
  session.updateTime = timestampFromDate(at);
  session.expireTime = timestampFromDate(new Date(at.getTime() + facts.ttlMs));
  return { session, steps, output: outputs.join("\n") };
}
