import { Code, ConnectError } from "@connectrpc/connect";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import { type Session, SessionStatus, type Step, StepKind } from "../gen/switchboard/v1/session_pb.js";
import { runHop } from "./agent-hop.js";
import { celVars } from "./cel-vars.js";
import { hasMark, notFound } from "./errors.js";
import { defaultMaxChain, flowKey } from "./flow.js";
import { enforceChecks, flowProgram } from "./flow-program.js";
import { interruptTurn, Interruption } from "./interruption.js";
import { failStage } from "./saga.js";
import { newSession, planTurn, type TurnPlan } from "./turn-plan.js";
import { commitVersion, repliesOf } from "./turn-commit.js";
import type { EngineDeps, Streamed, TurnContext } from "./turn-context.js";
import type { TurnRequest } from "./turn-request.js";
import { checkSessionLength, checkStateSize } from "./turn-limits.js";

/**
 * Progress is how far a run of a turn got before it failed: what its
 * failure record and report need.
 */
export interface Progress {
  /** The stored session, once read (undefined for a new one). */
  existing: Session | undefined;
  /** Whether the listeners were told the run began. */
  begun: boolean;
  /** The session's flow, once known. */
  flow: string;
  /** The session's flow version, once known. */
  flowVersion: string;
  plan: TurnPlan | undefined;
  /** What the run streamed: its input with what was streamed in, its replies. */
  streamed: Streamed | undefined;
}

/**
 * AttemptOutcome is how one run of a turn ended:
 * - "replayed": the turn id was applied already; its stored result;
 * - "committed": a new version is stored; `stageFailure` when it is a
 *   stage's failure that its `on_failure` committed;
 * - "interrupted": a barge-in cut the turn, committed as far as heard;
 * - "failed": nothing committed (ABORTED when another writer won the race).
 */
export type AttemptOutcome =
  | { kind: "replayed"; result: SendTurnResponse }
  | { kind: "committed"; result: SendTurnResponse; stageFailure?: ConnectError }
  | { kind: "interrupted"; result: SendTurnResponse; heard: string }
  | { kind: "failed"; error: ConnectError; progress: Progress };

/**
 * attemptTurn runs a turn once from the session's stored state and
 * commits it. It never throws: every end is an AttemptOutcome.
 */
export async function attemptTurn(deps: EngineDeps, ctx: TurnContext): Promise<AttemptOutcome> {
  const progress: Progress = { existing: undefined, begun: false, flow: "", flowVersion: "", plan: undefined, streamed: undefined };
  try {
    return await attempt(deps, ctx, progress);
  } catch (e) {
    return { kind: "failed", error: ConnectError.from(e), progress };
  }
}

async function attempt(deps: EngineDeps, ctx: TurnContext, progress: Progress): Promise<AttemptOutcome> {
  const { req, events } = ctx;
  // A caller that is gone gets no work done: not even a read.
  if (ctx.deadline !== undefined && deps.clock.now().getTime() >= ctx.deadline) {
    throw new ConnectError("the turn's deadline passed before it could start", Code.DeadlineExceeded);
  }
  // One read: the session, and the stored result when the turn id was applied already.
  const { session: existing, replay } = await deps.store.load(req.sessionId, req.turnId);
  // Another tenant's session reads as missing: its existence is not told.
  if (existing !== undefined && !req.anyTenant && existing.tenant !== req.tenant) throw notFound(`session ${req.sessionId}`);
  if (replay !== undefined) return { kind: "replayed", result: { ...replay, replayed: true } };
  progress.existing = existing;
  await events.begun({ turnId: ctx.turnId, version: existing?.version ?? 0n, lastSeq: existing?.lastSeq ?? 0n });
  progress.begun = true;
  const flow = flowFor(deps, existing, req);
  progress.flow = flow.id;
  progress.flowVersion = flow.version;
  checkSessionLength(existing, deps.maxSessionVersions);
  const before = existing ?? newSession(flow, { id: req.sessionId, accountId: req.accountId, tenant: req.tenant, now: ctx.startedAt });
  const version = before.version + 1n;
  let session = before;
  let plan = planTurn(flow, session, req.input);
  progress.plan = plan;
  const steps: Step[] = [];
  const streamed: Streamed = { input: req.input, replies: [], replyChars: 0, sent: false };
  progress.streamed = streamed;
  const maxChain = flow.maxChain > 0 ? flow.maxChain : defaultMaxChain;
  try {
    for (let hop = 0; ; hop++) {
      if (hop >= maxChain) {
        throw new ConnectError(
          `turn ran ${maxChain} stages without waiting for input (flow ${flow.id} max_chain); check the flow for a cycle`,
          Code.FailedPrecondition,
        );
      }
      events.accepted({ stage: plan.stage.name, agent: plan.agent });
      const { applied, branchSteps } = await runHop(deps, ctx, { flow, session, plan, version, first: hop === 0 }, streamed);
      steps.push(...branchSteps, applied.step);
      session = applied.session;
      if (applied.transition) events.transition(applied.transition);
      const chain = applied.chain;
      if (chain === undefined) break;
      plan =
        chain.kind === "handoff"
          ? { stage: plan.stage, agent: chain.agent, intent: session.intent || plan.intent, explicit: false, handoffFrom: plan.agent }
          : planTurn(flow, session, req.input, true);
      progress.plan = plan;
    }
  } catch (e) {
    const err = ConnectError.from(e);
    if (err.code === Code.Canceled && ctx.signal.reason instanceof Interruption) {
      return commitInterrupted(deps, ctx, { before, current: session, steps, plan, streamed, interruption: ctx.signal.reason });
    }
    if (plan.stage.onFailure !== undefined && hasMark(err, "stage-failure")) {
      return commitStageFailure(deps, ctx, { flow, before, current: session, plan, error: err, steps });
    }
    throw err;
  }
  // Invariants hold after every committed turn, or the turn commits nothing.
  enforceChecks("invariant", `flow ${JSON.stringify(flow.id)}`, flowProgram(flow).invariants, () => celVars(session, req.input));
  // Only a state patch can grow the state: a turn without one skips the
  // serialisation the check costs.
  if (steps.some((s) => s.statePatch !== undefined)) checkStateSize(session, deps.maxStateBytes);
  const result = await commitVersion(deps.store, events, {
    session,
    expectedVersion: before.version,
    reason: "turn",
    steps,
    turnId: ctx.turnId,
    replayId: req.turnId,
    answer: {
      output: repliesOf(steps),
      // The agent that actually served last (a fallback, or after a
      // parallel stage, which has no single agent).
      agent: lastAgent(steps) || plan.agent || session.agent,
      stageCompleted: plan.stage.name,
      isComplete: session.status === SessionStatus.COMPLETED,
    },
  });
  return { kind: "committed", result };
}

/** lastAgent is the agent of the turn's last call that is not a parallel branch. */
export function lastAgent(steps: readonly Step[]): string {
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i] as Step;
    if (s.kind !== StepKind.BRANCH) return s.agent;
  }
  return "";
}

interface Cut {
  before: Session;
  /** The session after the agent calls that completed. */
  current: Session;
  steps: Step[];
  /** The call that was running when the barge-in came. */
  plan: TurnPlan;
  streamed: Streamed;
  interruption: Interruption;
}

/**
 * commitInterrupted commits a turn cut short by a barge-in as far as the
 * user heard it: a barge-in is not a failure.
 */
async function commitInterrupted(deps: EngineDeps, ctx: TurnContext, c: Cut): Promise<AttemptOutcome> {
  const { steps, streamed } = c;
  const done = steps.map((step, i) => ({ step, streamed: streamed.replies[i] ?? "" }));
  const running = streamed.replies.length > steps.length ? { plan: c.plan, streamed: streamed.replies[steps.length] ?? "" } : undefined;
  const cut = interruptTurn(c.current, done, running, {
    turnId: ctx.turnId,
    version: c.before.version + 1n,
    input: streamed.input,
    heard: c.interruption.heard,
    startedAt: ctx.startedAt,
    now: deps.clock.now(),
    ttlMs: deps.sessionTtlMs,
  });
  const last = cut.steps[cut.steps.length - 1];
  const result = await commitVersion(deps.store, ctx.events, {
    session: cut.session,
    expectedVersion: c.before.version,
    reason: "turn",
    steps: cut.steps,
    turnId: ctx.turnId,
    replayId: ctx.req.turnId,
    answer: {
      output: cut.steps.map((s) => s.output).filter((o) => o !== "").join("\n"),
      agent: last?.agent ?? "",
      stageCompleted: last?.stage ?? "",
      isComplete: cut.session.status === SessionStatus.COMPLETED,
      interrupted: true,
    },
  });
  return { kind: "interrupted", result, heard: cut.heard };
}

interface StageFailure {
  flow: Flow;
  before: Session;
  current: Session;
  plan: TurnPlan;
  error: ConnectError;
  /** The steps of the turn's earlier calls. */
  steps: Step[];
}

/**
 * commitStageFailure commits a stage's terminal failure as its
 * `on_failure` says (compensations, then another stage or the end) and
 * answers the turn with the outcome.
 */
async function commitStageFailure(deps: EngineDeps, ctx: TurnContext, f: StageFailure): Promise<AttemptOutcome> {
  const { flow, current, plan } = f;
  const { req } = ctx;
  const failed = await failStage(
    { invoker: deps.invoker, now: () => deps.clock.now(), defaultTimeoutMs: deps.defaultAgentTimeoutMs },
    {
      flow,
      session: current,
      plan,
      error: f.error,
      turnId: ctx.turnId,
      version: f.before.version + 1n,
      input: req.input,
      startedAt: ctx.startedAt,
      ttlMs: deps.sessionTtlMs,
      counted: f.steps.length > 0,
      violation: (session) => {
        try {
          enforceChecks("invariant", `flow ${JSON.stringify(flow.id)}`, flowProgram(flow).invariants, () => celVars(session, req.input));
          return undefined;
        } catch (e) {
          return ConnectError.from(e).rawMessage;
        }
      },
    },
  );
  const session = failed.session;
  if (session.stage !== current.stage) ctx.events.transition({ from: current.stage, to: session.stage });
  const result = await commitVersion(deps.store, ctx.events, {
    session,
    expectedVersion: f.before.version,
    reason: "turn",
    steps: [...f.steps, ...failed.steps],
    turnId: ctx.turnId,
    replayId: req.turnId,
    answer: {
      output: repliesOf(f.steps, [failed.output]),
      agent: plan.agent,
      stageCompleted: plan.stage.name,
      isComplete: session.status === SessionStatus.COMPLETED || session.status === SessionStatus.FAILED,
    },
  });
  return { kind: "committed", result, stageFailure: f.error };
}

/**
 * flowFor is the flow a turn follows: the stored session's own version, or
 * for a new session the version the flow's rollout assigns it (the latest
 * version of the one asked for, or the default, when it has none).
 */
function flowFor(deps: EngineDeps, existing: Session | undefined, req: TurnRequest): Flow {
  const { flows } = deps;
  if (existing !== undefined) {
    const flow = flows.get(existing.flowId, existing.flowVersion);
    if (flow === undefined) {
      throw new ConnectError(
        `session ${existing.id} follows flow ${flowKey(existing.flowId, existing.flowVersion)}, which is not loaded`,
        Code.FailedPrecondition,
      );
    }
    return flow;
  }
  const id = req.flowId || flows.defaultFlowId;
  const flow = flows.forNewSession?.(id, req.sessionId, req.accountId) ?? flows.get(id, "");
  if (flow === undefined) throw notFound(`flow ${JSON.stringify(id)}`);
  return flow;
}
