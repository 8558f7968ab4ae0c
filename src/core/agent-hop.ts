import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type InputDelta, type OutputDelta, OutputDeltaSchema, TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import type { Session, Step } from "../gen/switchboard/v1/session_pb.js";
import { celVars } from "./cel-vars.js";
import { hasMark } from "./errors.js";
import { enforceChecks, flowProgram } from "./flow-program.js";
import { branchSteps } from "./parallel.js";
import type { AgentCall } from "./ports.js";
import { callStage, type StageRun } from "./stage-call.js";
import { type AppliedTurn, applyResult } from "./turn.js";
import type { TurnPlan } from "./turn-plan.js";
import type { EngineDeps, Streamed, TurnContext } from "./turn-context.js";

/**
 * Hop is one agent call of a turn: which stage and agent, on which session.
 */
export interface Hop {
  flow: Flow;
  session: Session;
  plan: TurnPlan;
  /** The version the turn commits. */
  version: bigint;
  /** Whether this is the turn's first call (it takes streamed input). */
  first: boolean;
}

/**
 * HopResult is a hop's result applied to the session, with the steps of a
 * parallel stage's branches (stored before the stage's own step).
 */
export interface HopResult {
  applied: AppliedTurn;
  branchSteps: Step[];
}

/**
 * runHop makes one agent call of a turn: checks the stage's preconditions,
 * gives the agent what is left of the turn's budget, streams its reply to
 * the listeners, falls back to the stage's fallback agent when no instance
 * can be reached, checks the postconditions and applies the result.
 */
export async function runHop(deps: EngineDeps, ctx: TurnContext, hop: Hop, streamed: Streamed): Promise<HopResult> {
  const { flow, session, plan } = hop;
  const { req, events } = ctx;
  const stageProgram = flowProgram(flow).stages.get(plan.stage.name);
  const where = `stage ${JSON.stringify(plan.stage.name)}`;
  enforceChecks("precondition", where, stageProgram?.preconditions ?? [], () => celVars(session, req.input));
  const startedAt = deps.clock.now();
  const timeoutMs = budgetOf(deps, ctx, plan, startedAt.getTime());
  const takesInput = hop.first && req.inputStream !== undefined;
  const start = create(TurnStartSchema, {
    sessionId: session.id,
    turnId: ctx.turnId,
    accountId: session.accountId,
    flowId: flow.id,
    stage: plan.stage.name,
    intent: plan.intent,
    input: req.input,
    state: session.state ?? {},
    history: session.history,
    budget: durationFromMs(Math.round(timeoutMs)),
    attempt: ctx.attempt,
    handoffFrom: plan.handoffFrom,
    metadata: req.metadata,
    inputStreaming: takesInput,
  });
  const reply = streamed.replies.push("") - 1;
  /** publish hands a piece of the reply to the listeners, noting that output went out. */
  const publish = (delta: OutputDelta, agent: string) => {
    streamed.sent = true;
    return events.output({ delta, agent });
  };
  const input = takesInput && req.inputStream !== undefined ? appendInput(req.inputStream, streamed) : undefined;
  const call = (agent: string): AgentCall => ({
    agent,
    start,
    signal: ctx.signal,
    timeoutMs,
    ...(input !== undefined ? { input } : {}),
    onDelta: (delta) => {
      streamed.replies[reply] += delta.text;
      streamed.replyChars += delta.text.length;
      if (streamed.replyChars > deps.maxOutputChars) {
        throw new ConnectError(`the turn's reply is longer than the limit of ${deps.maxOutputChars} characters`, Code.ResourceExhausted);
      }
      return publish(delta, agent);
    },
    ...(plan.stage.retry !== undefined ? { retry: plan.stage.retry } : {}),
  });
  const stageDeps = { invoker: deps.invoker, now: () => deps.clock.now() };
  // When no instance of the agent can be called (none live, or every
  // breaker open), nothing reached it, so the stage's fallback agent may
  // serve the turn instead.
  let served = plan;
  let run: StageRun;
  try {
    run = await callStage(stageDeps, plan.stage, call(plan.agent), publish);
  } catch (e) {
    const fallback = plan.stage.fallbackAgent;
    if (!hasMark(e, "unroutable") || fallback === "" || fallback === plan.agent || plan.stage.parallel !== undefined) throw e;
    served = { ...plan, agent: fallback };
    run = await callStage(stageDeps, plan.stage, call(fallback), publish);
  }
  const outcome = run.outcome;
  if (run.runs === undefined && streamed.replies[reply] === "" && outcome.result.text !== "") {
    // An agent that streamed nothing still has its reply reach streams
    // as output, so every client sees every reply the same way.
    streamed.replies[reply] = outcome.result.text;
    await publish(create(OutputDeltaSchema, { text: outcome.result.text }), served.agent);
  }
  const branches = run.runs
    ? branchSteps(run.runs, { sessionId: session.id, version: hop.version, turnId: ctx.turnId, stage: plan.stage.name, intent: plan.intent })
    : [];
  enforceChecks("postcondition", where, stageProgram?.postconditions ?? [], () => celVars(session, req.input, outcome.result, run.branches));
  const applied = applyResult(flow, session, served, outcome.result, {
    turnId: ctx.turnId,
    version: hop.version,
    input: streamed.input,
    first: hop.first,
    instance: outcome.instance,
    attempts: outcome.attempts,
    latencyMs: outcome.latencyMs,
    breaker: outcome.breaker,
    startedAt,
    now: deps.clock.now(),
    ttlMs: deps.sessionTtlMs,
    ...(run.branches ? { branches: run.branches, branchAgents: run.branchAgents ?? [] } : {}),
  });
  if (served !== plan) applied.step.details["fallback_for"] = plan.agent;
  return { applied, branchSteps: branches };
}

/**
 * budgetOf is the agent's time budget: the stage's timeout (or the
 * default), cut to what is left before the caller's deadline.
 */
function budgetOf(deps: EngineDeps, ctx: TurnContext, plan: TurnPlan, now: number): number {
  const stageTimeout = plan.stage.timeout ? durationMs(plan.stage.timeout) : deps.defaultAgentTimeoutMs;
  const remaining = ctx.deadline === undefined ? Infinity : ctx.deadline - now;
  const timeoutMs = Math.max(0, Math.min(stageTimeout, remaining));
  if (timeoutMs <= 0) {
    throw new ConnectError("the turn's deadline passed before the agent could be called", Code.DeadlineExceeded);
  }
  return timeoutMs;
}

/**
 * appendInput passes streamed input through to the agent and appends its
 * text to the turn's input, which the transcript and audit trail record.
 */
async function* appendInput(source: AsyncIterable<InputDelta>, streamed: Streamed): AsyncGenerator<InputDelta> {
  for await (const delta of source) {
    if (delta.text !== "") streamed.input = { ...streamed.input, text: streamed.input.text + delta.text };
    yield delta;
  }
}
