import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type InputDelta, type OutputDelta, OutputDeltaSchema, TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import { type SendTurnResponse, SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import {
  type Session,
  SessionStatus,
  type Step,
  StepKind,
  StepSchema,
  StepStatus,
} from "../gen/switchboard/v1/session_pb.js";
import type { TurnInput } from "../gen/switchboard/v1/turn_pb.js";
import { celVars } from "./cel-vars.js";
import { agentCallFactsOf, codeName, hasMark, notFound } from "./errors.js";
import { defaultMaxChain, flowKey } from "./flow.js";
import { interruptTurn, Interruption } from "./interruption.js";
import { enforceChecks, flowProgram } from "./flow-program.js";
import { branchSteps } from "./parallel.js";
import type { AgentCall, AgentInvoker, Clock, SessionStore } from "./ports.js";
import { failStage } from "./saga.js";
import { callStage } from "./stage-call.js";
import { type AppliedTurn, applyResult, newSession, planTurn, type TurnPlan } from "./turn.js";
import { KeyedMutex } from "./keyed-mutex.js";

/**
 * FlowSource resolves flows by id and version.
 */
export interface FlowSource {
  /** get returns one version of a flow; an empty version means the latest. */
  get(id: string, version: string): Flow | undefined;
  /** defaultFlowId is the flow new sessions follow when the client names none. */
  readonly defaultFlowId: string;
}

/**
 * TurnRequest is one turn as the engine receives it, after the server has
 * validated its fields.
 */
export interface TurnRequest {
  sessionId: string;
  accountId: string;
  flowId: string;
  /** The client's turn id; empty when the client sent none. */
  turnId: string;
  input: TurnInput;
  /** The tenant a new session belongs to; unless `anyTenant`, also the only tenant whose sessions the turn may touch. */
  tenant: string;
  /** True when the caller may touch every tenant's sessions (no authentication, or an operator). */
  anyTenant?: boolean;
  /** Metadata passed through to the agent (trace context, channel). */
  metadata: Record<string, string>;
  /** More input for the turn's first agent, appended to `input.text` as it streams in. */
  inputStream?: AsyncIterable<InputDelta>;
}

/**
 * TurnOutcome is how a turn ended: a committed result (`heard` is set for a
 * turn cut short by a barge-in) or an error (`recorded` when its step is in
 * the audit trail).
 */
export type TurnOutcome =
  | { result: SendTurnResponse; heard?: string }
  | { error: ConnectError; recorded: boolean };

/**
 * TurnObserver receives a turn's events as they happen, all while the turn
 * holds its session's lock, so a session's events never interleave. The
 * session hub (src/server) publishes them to streams and watchers.
 */
export interface TurnObserver {
  /** begin: the turn holds the lock; `version` is the session's (0 if new). */
  begin?(turnId: string, version: bigint): void | Promise<void>;
  accepted?(stage: string, agent: string): void;
  /** output: a piece of the reply; a returned promise paces the agent. */
  output?(delta: OutputDelta, agent: string): void | Promise<void>;
  transition?(from: string, to: string): void;
  /** steps: the steps about to be stored, one per agent call, in order; details may be added. */
  steps?(steps: Step[]): void;
  /** settled: the turn's outcome, once it is stored. */
  settled?(outcome: TurnOutcome): void;
  /**
   * rerunnable: the caller sees only the turn's result, not its output as
   * it streams (a unary SendTurn), so a turn that lost a compare-and-set may
   * run again from fresh state even after output was published to watchers.
   */
  readonly rerunnable?: boolean;
}

/**
 * TurnRecord is what the engine reports about a finished turn for logging.
 */
export interface TurnRecord {
  sessionId: string;
  turnId: string;
  /** The flow the session follows (empty when the turn failed before that was known). */
  flow: string;
  agent: string;
  stage: string;
  status: "ok" | "failed" | "replayed" | "interrupted";
  latencyMs: number;
  code?: string;
  error?: string;
}

/**
 * EngineOptions configure the engine.
 */
export interface EngineOptions {
  store: SessionStore;
  invoker: AgentInvoker;
  flows: FlowSource;
  clock: Clock;
  /** Generates session and turn ids. */
  newId: () => string;
  /** Idle time after which a session expires. */
  sessionTtlMs: number;
  /** The agent budget when neither the caller nor the stage sets one. */
  defaultAgentTimeoutMs: number;
  /** Called once per turn, e.g. to log it. */
  onTurn?: (record: TurnRecord) => void;
  /** The most reply text one turn may stream, in UTF-16 units (default 1 MiB). */
  maxOutputChars?: number;
  /** How often a turn may run from fresh state after losing a compare-and-set to another replica (default 50; the turn's deadline bounds it too). */
  commitAttempts?: number;
  /** The largest session state, in bytes of JSON (default 256 KiB). */
  maxStateBytes?: number;
  /** The most versions a session may have (default 10,000). */
  maxSessionVersions?: number;
}

/**
 * defaultMaxStateBytes bounds a session's state unless configured otherwise.
 */
export const defaultMaxStateBytes = 256 * 1024;

/**
 * defaultMaxSessionVersions bounds a session's length unless configured otherwise.
 */
export const defaultMaxSessionVersions = 10_000;

/**
 * TurnState is what a running turn has streamed so far: its input (with
 * streamed input appended) and each agent call's reply.
 */
interface TurnState {
  input: TurnInput;
  replies: string[];
  replyChars: number;
}

/** Attempt records how far one run of a turn got, for failure reports. */
interface Attempt {
  existing: Session | undefined;
  /** The flow of the session, once known. */
  flow: string;
  plan: TurnPlan | undefined;
  /** Which run of the turn this is, from 1; agents see it as TurnStart.attempt. */
  number: number;
  /** Set when a stage's terminal failure was committed by its on_failure. */
  stageFailure?: ConnectError | undefined;
  /** Set when a barge-in cut the turn short: what the user heard. */
  heard?: string | undefined;
  /** Whether the observer was told the attempt began. */
  begun: boolean;
  /** The turn's input with what was streamed in so far. */
  input?: TurnInput | undefined;
}

/**
 * checkStateSize refuses a state larger than the limit, before anything is
 * committed, with an error that says how large it got.
 */
function checkStateSize(session: Session, limit: number): void {
  const bytes = utf8.encode(JSON.stringify(session.state ?? {})).length;
  if (bytes > limit) {
    throw new ConnectError(
      `the session state would grow to ${bytes} bytes, above the limit of ${limit}; the agent's state patch was not applied`,
      Code.ResourceExhausted,
    );
  }
}

const utf8 = new TextEncoder();

/**
 * checkSessionLength refuses a turn on a session that has as many versions
 * as a session may have.
 */
function checkSessionLength(session: Session | undefined, limit: number): void {
  if (session !== undefined && session.version >= BigInt(limit)) {
    throw new ConnectError(
      `session ${session.id} has reached ${session.version} versions, the most a session may have; start a new session (or fork this one)`,
      Code.ResourceExhausted,
    );
  }
}

/**
 * Engine runs conversation turns: it picks the stage and agent, calls the
 * agent, applies its result to the session and commits the new version.
 * Both the unary and the streaming API run turns through `runTurn`.
 */
export class Engine {
  private readonly locks = new KeyedMutex();

  constructor(private readonly opts: EngineOptions) {}

  /**
   * runTurn runs one turn to its end. `deadline` is the absolute time (ms
   * since epoch) by which the caller wants an answer, if it set one.
   */
  async runTurn(
    req: TurnRequest,
    signal: AbortSignal,
    deadline: number | undefined,
    observer: TurnObserver = {},
  ): Promise<SendTurnResponse> {
    const sessionId = req.sessionId || this.opts.newId();
    // Turns of one session run one at a time on this replica; replicas
    // sharing a database are kept apart by the store's compare-and-set.
    return this.locks.run(sessionId, () =>
      this.runLocked({ ...req, sessionId }, signal, deadline, observer),
    );
  }

  /**
   * exclusive runs a task while it holds a session's lock, between turns.
   */
  exclusive<T>(sessionId: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(sessionId, task);
  }

  private async runLocked(
    req: TurnRequest,
    signal: AbortSignal,
    deadline: number | undefined,
    observer: TurnObserver,
  ): Promise<SendTurnResponse> {
    const { clock } = this.opts;
    const startedAt = clock.now();
    const turnId = req.turnId || this.opts.newId();
    // Once output reached the caller a turn cannot run again unseen, so a
    // lost compare-and-set is retried from fresh state only before that.
    let outputSent = false;
    const watched: TurnObserver = {
      ...observer,
      output: (delta, agent) => {
        if (observer.rerunnable !== true) outputSent = true;
        return observer.output?.(delta, agent);
      },
    };
    const attempt: Attempt = { existing: undefined, flow: "", plan: undefined, number: 1, begun: false };
    for (;;) {
      try {
        const result = await this.attemptTurn(req, turnId, signal, deadline, watched, startedAt, attempt);
        const failed = attempt.stageFailure;
        observer.settled?.(attempt.heard !== undefined ? { result, heard: attempt.heard } : { result });
        this.report({
          sessionId: result.sessionId,
          turnId,
          flow: result.session?.flowId ?? attempt.flow,
          agent: result.agent,
          stage: result.stageCompleted,
          status: result.replayed ? "replayed" : result.interrupted ? "interrupted" : failed ? "failed" : "ok",
          latencyMs: clock.now().getTime() - startedAt.getTime(),
          ...(failed ? { code: codeName(failed.code), error: `${failed.rawMessage} (committed by on_failure)` } : {}),
        });
        return result;
      } catch (e) {
        const err = ConnectError.from(e);
        if (err.code === Code.Aborted && !outputSent && attempt.number < this.commitAttempts && !signal.aborted) {
          // No backoff to speak of: the turn that won is committed, so a
          // fresh read now sees it; waiting longer would only let the
          // winner's next queued turn win again.
          if (attempt.begun) {
            // Observers saw this run begin: tell them it ended, and why.
            observer.settled?.({
              error: new ConnectError(`${err.rawMessage.replace(/; send the turn again$/, "")}; running the turn again`, Code.Aborted),
              recorded: false,
            });
          }
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
          attempt.number++;
          continue;
        }
        this.report({
          sessionId: req.sessionId,
          turnId,
          flow: attempt.flow,
          agent: attempt.plan?.agent ?? "",
          stage: attempt.plan?.stage.name ?? attempt.existing?.stage ?? "",
          status: "failed",
          latencyMs: clock.now().getTime() - startedAt.getTime(),
          code: codeName(err.code),
          error: err.rawMessage,
        });
        const recorded =
          attempt.existing !== undefined &&
          !hasMark(err, "store") &&
          (await this.recordFailure(attempt.existing, { ...req, input: attempt.input ?? req.input }, turnId, attempt.plan, err, startedAt, observer));
        if (attempt.begun) observer.settled?.({ error: err, recorded });
        throw err;
      }
    }
  }

  private get commitAttempts(): number {
    return this.opts.commitAttempts ?? 50;
  }

  /**
   * attemptTurn runs a turn once from the session's stored state and
   * commits it, or throws. `attempt` tells the caller how far it got.
   */
  private async attemptTurn(
    req: TurnRequest,
    turnId: string,
    signal: AbortSignal,
    deadline: number | undefined,
    observer: TurnObserver,
    startedAt: Date,
    attempt: Attempt,
  ): Promise<SendTurnResponse> {
    const { store } = this.opts;
    attempt.plan = undefined;
    attempt.stageFailure = undefined;
    attempt.heard = undefined;
    attempt.begun = false;
    // One read: the session, and the stored result when the turn id was applied already.
    const { session: existing, replay } = await store.load(req.sessionId, req.turnId);
    // Another tenant's session reads as missing: its existence is not told.
    if (existing !== undefined && !req.anyTenant && existing.tenant !== req.tenant) throw notFound(`session ${req.sessionId}`);
    if (replay !== undefined) return { ...replay, replayed: true };
    attempt.existing = existing;
    await observer.begin?.(turnId, existing?.version ?? 0n);
    attempt.begun = true;
    const flow = this.flowFor(existing, req);
    attempt.flow = flow.id;
    checkSessionLength(existing, this.opts.maxSessionVersions ?? defaultMaxSessionVersions);
    const before =
      existing ??
      newSession(flow, { id: req.sessionId, accountId: req.accountId, tenant: req.tenant, now: startedAt });
    let session = before;
    let plan = planTurn(flow, session, req.input);
    attempt.plan = plan;
    const steps: Step[] = [];
    const state: TurnState = { input: req.input, replies: [], replyChars: 0 };
    attempt.input = req.input;
    let hop = 0;
    try {
      const maxChain = flow.maxChain > 0 ? flow.maxChain : defaultMaxChain;
      for (; ; hop++) {
        if (hop >= maxChain) {
          throw new ConnectError(
            `turn ran ${maxChain} stages without waiting for input (flow ${flow.id} max_chain); check the flow for a cycle`,
            Code.FailedPrecondition,
          );
        }
        observer.accepted?.(plan.stage.name, plan.agent);
        const applied = await this.callAgent(flow, session, plan, req, turnId, before.version + 1n, hop === 0, attempt.number, signal, deadline, observer, steps, state);
        attempt.input = state.input;
        steps.push(applied.step);
        session = applied.session;
        if (applied.transition) observer.transition?.(applied.transition.from, applied.transition.to);
        const chain = applied.chain;
        if (chain === undefined) break;
        if (chain.kind === "handoff") {
          plan = { stage: plan.stage, agent: chain.agent, intent: session.intent || plan.intent, explicit: false, handoffFrom: plan.agent };
        } else {
          plan = planTurn(flow, session, req.input, true);
        }
        attempt.plan = plan;
      }
    } catch (e) {
      const err = ConnectError.from(e);
      attempt.input = state.input;
      if (err.code === Code.Canceled && signal.reason instanceof Interruption) {
        // A barge-in is not a failure: the turn is committed as far as the
        // user heard it (unless that commit fails too).
        const done = steps.map((step, i) => ({ step, streamed: state.replies[i] ?? "" }));
        const running = state.replies.length > steps.length ? { plan, streamed: state.replies[steps.length] ?? "" } : undefined;
        return this.commitInterrupted(before, session, done, running, req, turnId, state, signal.reason, startedAt, observer, attempt);
      }
      if (plan.stage.onFailure !== undefined && hasMark(err, "stage-failure")) {
        attempt.stageFailure = err;
        return this.commitStageFailure(flow, before, session, plan, err, req, turnId, startedAt, steps, hop > 0, observer);
      }
      throw err;
    }
    // Invariants hold after every committed turn, or the turn commits nothing.
    enforceChecks("invariant", `flow ${JSON.stringify(flow.id)}`, flowProgram(flow).invariants, celVars(session, req.input));
    // Only a state patch can grow the state: a turn without one skips the
    // serialisation the check costs.
    if (steps.some((s) => s.statePatch !== undefined)) {
      checkStateSize(session, this.opts.maxStateBytes ?? defaultMaxStateBytes);
    }
    observer.steps?.(steps);
    const result = create(SendTurnResponseSchema, {
      sessionId: session.id,
      turnId,
      output: steps.filter((s) => s.kind !== StepKind.BRANCH).map((s) => s.output).filter((o) => o !== "").join("\n"),
      // The agent that actually served last (a fallback, or after a
      // parallel stage, which has no single agent).
      agent: steps.filter((s) => s.kind !== StepKind.BRANCH).at(-1)?.agent || plan.agent || session.agent,
      stageCompleted: plan.stage.name,
      nextStage: session.stage,
      isComplete: session.status === SessionStatus.COMPLETED,
      session,
    });
    await store.commit({
      session,
      expectedVersion: before.version,
      reason: "turn",
      steps,
      ...(req.turnId !== "" ? { turn: { turnId: req.turnId, result } } : {}),
    });
    return result;
  }

  private async commitInterrupted(
    before: Session,
    current: Session,
    done: Array<{ step: Step; streamed: string }>,
    running: { plan: TurnPlan; streamed: string } | undefined,
    req: TurnRequest,
    turnId: string,
    state: TurnState,
    interruption: Interruption,
    startedAt: Date,
    observer: TurnObserver,
    attempt: Attempt,
  ): Promise<SendTurnResponse> {
    const { clock, store } = this.opts;
    const cut = interruptTurn(current, done, running, {
      turnId,
      version: before.version + 1n,
      input: state.input,
      heard: interruption.heard,
      startedAt,
      now: clock.now(),
      ttlMs: this.opts.sessionTtlMs,
    });
    const last = cut.steps[cut.steps.length - 1];
    const result = create(SendTurnResponseSchema, {
      sessionId: cut.session.id,
      turnId,
      output: cut.steps.map((s) => s.output).filter((o) => o !== "").join("\n"),
      agent: last?.agent ?? "",
      stageCompleted: last?.stage ?? "",
      nextStage: cut.session.stage,
      isComplete: cut.session.status === SessionStatus.COMPLETED,
      session: cut.session,
      interrupted: true,
    });
    observer.steps?.(cut.steps);
    await store.commit({
      session: cut.session,
      expectedVersion: before.version,
      reason: "turn",
      steps: cut.steps,
      ...(req.turnId !== "" ? { turn: { turnId: req.turnId, result } } : {}),
    });
    attempt.heard = cut.heard;
    return result;
  }

  private flowFor(existing: Session | undefined, req: TurnRequest): Flow {
    const { flows } = this.opts;
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
    const flow = flows.get(id, "");
    if (flow === undefined) throw notFound(`flow ${JSON.stringify(id)}`);
    return flow;
  }

  private async callAgent(
    flow: Flow,
    session: Session,
    plan: TurnPlan,
    req: TurnRequest,
    turnId: string,
    version: bigint,
    first: boolean,
    attemptNumber: number,
    signal: AbortSignal,
    deadline: number | undefined,
    observer: TurnObserver,
    steps: Step[],
    state: TurnState,
  ): Promise<AppliedTurn> {
    const { clock } = this.opts;
    const stageProgram = flowProgram(flow).stages.get(plan.stage.name);
    const where = `stage ${JSON.stringify(plan.stage.name)}`;
    enforceChecks("precondition", where, stageProgram?.preconditions ?? [], celVars(session, req.input));
    const startedAt = clock.now();
    const stageTimeout = plan.stage.timeout
      ? durationMs(plan.stage.timeout)
      : this.opts.defaultAgentTimeoutMs;
    const remaining = deadline === undefined ? Infinity : deadline - startedAt.getTime();
    const timeoutMs = Math.max(0, Math.min(stageTimeout, remaining));
    if (timeoutMs <= 0) {
      throw new ConnectError("the turn's deadline passed before the agent could be called", Code.DeadlineExceeded);
    }
    const start = create(TurnStartSchema, {
      sessionId: session.id,
      turnId,
      accountId: session.accountId,
      flowId: flow.id,
      stage: plan.stage.name,
      intent: plan.intent,
      input: req.input,
      state: session.state ?? {},
      history: session.history,
      budget: durationFromMs(Math.round(timeoutMs)),
      attempt: attemptNumber,
      handoffFrom: plan.handoffFrom,
      metadata: req.metadata,
      inputStreaming: first && req.inputStream !== undefined,
    });
    const reply = state.replies.push("") - 1;
    const maxChars = this.opts.maxOutputChars ?? 1 << 20;
    const input = first && req.inputStream !== undefined ? appendInput(req.inputStream, state) : undefined;
    const call = (agent: string): AgentCall => ({
      agent,
      start,
      signal,
      timeoutMs,
      ...(input !== undefined ? { input } : {}),
      onDelta: (delta) => {
        state.replies[reply] += delta.text;
        state.replyChars += delta.text.length;
        if (state.replyChars > maxChars) {
          throw new ConnectError(`the turn's reply is longer than the limit of ${maxChars} characters`, Code.ResourceExhausted);
        }
        return observer.output?.(delta, agent);
      },
      ...(plan.stage.retry !== undefined ? { retry: plan.stage.retry } : {}),
    });
    const deps = { invoker: this.opts.invoker, now: () => clock.now() };
    const onBranchDelta = (delta: OutputDelta, agent: string) => observer.output?.(delta, agent);
    // When no instance of the agent can be called (none live, or every
    // breaker open), nothing reached it, so the stage's fallback agent may
    // serve the turn instead.
    let served = plan;
    let run;
    try {
      run = await callStage(deps, plan.stage, call(plan.agent), onBranchDelta);
    } catch (e) {
      const fallback = plan.stage.fallbackAgent;
      if (!hasMark(e, "unroutable") || fallback === "" || fallback === plan.agent || plan.stage.parallel !== undefined) throw e;
      served = { ...plan, agent: fallback };
      run = await callStage(deps, plan.stage, call(fallback), onBranchDelta);
    }
    const outcome = run.outcome;
    if (run.runs === undefined && state.replies[reply] === "" && outcome.result.text !== "") {
      // An agent that streamed nothing still has its reply reach streams
      // as output, so every client sees every reply the same way.
      state.replies[reply] = outcome.result.text;
      await observer.output?.(create(OutputDeltaSchema, { text: outcome.result.text }), served.agent);
    }
    if (run.runs) {
      steps.push(...branchSteps(run.runs, { sessionId: session.id, version, turnId, stage: plan.stage.name, intent: plan.intent }));
    }
    enforceChecks("postcondition", where, stageProgram?.postconditions ?? [], celVars(session, req.input, outcome.result, run.branches));
    const applied = applyResult(flow, session, served, outcome.result, {
      turnId,
      version,
      input: state.input,
      first,
      instance: outcome.instance,
      attempts: outcome.attempts,
      latencyMs: outcome.latencyMs,
      breaker: outcome.breaker,
      startedAt,
      now: clock.now(),
      ttlMs: this.opts.sessionTtlMs,
      ...(run.branches ? { branches: run.branches, branchAgents: run.branchAgents ?? [] } : {}),
    });
    if (served !== plan) applied.step.details["fallback_for"] = plan.agent;
    return applied;
  }

  /**
   * commitStageFailure commits a stage's terminal failure as its
   * `on_failure` says (compensations, then another stage or the end) and
   * answers the turn with the outcome.
   */
  private async commitStageFailure(
    flow: Flow,
    before: Session,
    current: Session,
    plan: TurnPlan,
    err: ConnectError,
    req: TurnRequest,
    turnId: string,
    startedAt: Date,
    steps: Step[],
    counted: boolean,
    observer: TurnObserver,
  ): Promise<SendTurnResponse> {
    const { clock, store } = this.opts;
    const failed = await failStage(
      { invoker: this.opts.invoker, now: () => clock.now(), defaultTimeoutMs: this.opts.defaultAgentTimeoutMs },
      {
        flow,
        session: current,
        plan,
        error: err,
        turnId,
        version: before.version + 1n,
        input: req.input,
        startedAt,
        ttlMs: this.opts.sessionTtlMs,
        counted,
        violation: (session) => {
          try {
            enforceChecks("invariant", `flow ${JSON.stringify(flow.id)}`, flowProgram(flow).invariants, celVars(session, req.input));
            return undefined;
          } catch (e) {
            return ConnectError.from(e).rawMessage;
          }
        },
      },
    );
    const session = failed.session;
    const output = [...steps.filter((s) => s.kind !== StepKind.BRANCH).map((s) => s.output), failed.output].filter((o) => o !== "").join("\n");
    const result = create(SendTurnResponseSchema, {
      sessionId: session.id,
      turnId,
      output,
      agent: plan.agent,
      stageCompleted: plan.stage.name,
      nextStage: session.stage,
      isComplete: session.status === SessionStatus.COMPLETED || session.status === SessionStatus.FAILED,
      session,
    });
    observer.steps?.([...steps, ...failed.steps]);
    await store.commit({
      session,
      expectedVersion: before.version,
      reason: "turn",
      steps: [...steps, ...failed.steps],
      ...(req.turnId !== "" ? { turn: { turnId: req.turnId, result } } : {}),
    });
    if (session.stage !== current.stage) observer.transition?.(current.stage, session.stage);
    return result;
  }

  private async recordFailure(
    session: Session,
    req: TurnRequest,
    turnId: string,
    plan: TurnPlan | undefined,
    err: ConnectError,
    startedAt: Date,
    observer: TurnObserver,
  ): Promise<boolean> {
    const call = agentCallFactsOf(err);
    const step = create(StepSchema, {
      sessionId: session.id,
      version: session.version,
      turnId,
      kind: StepKind.TURN,
      stage: plan?.stage.name ?? session.stage,
      intent: plan?.intent ?? req.input.intent,
      input: req.input,
      agent: call?.agent || (plan?.agent ?? ""),
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
      nextStage: session.stage,
      error: { code: codeName(err.code), message: err.rawMessage },
      startTime: timestampFromDate(startedAt),
      endTime: timestampFromDate(this.opts.clock.now()),
    });
    observer.steps?.([step]);
    try {
      await this.opts.store.recordFailure(step);
      return true;
    } catch {
      // The audit record of a failure is best effort: the caller still gets
      // the turn's own error, which matters more than the store's.
      return false;
    }
  }

  private report(record: TurnRecord): void {
    this.opts.onTurn?.(record);
  }
}

/**
 * appendInput passes streamed input through to the agent and appends its
 * text to the turn's input, which the transcript and audit trail record.
 */
async function* appendInput(source: AsyncIterable<InputDelta>, state: TurnState): AsyncGenerator<InputDelta> {
  for await (const delta of source) {
    if (delta.text !== "") state.input = { ...state.input, text: state.input.text + delta.text };
    yield delta;
  }
}
