import { clone, create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Flow, Stage } from "../gen/switchboard/v1/flow_pb.js";
import {
  type Session,
  SessionSchema,
  SessionStatus,
  SessionSummarySchema,
  type Step,
  StepKind,
  StepSchema,
  StepStatus,
} from "../gen/switchboard/v1/session_pb.js";
import {
  Action,
  type AgentResult,
  Role,
  TranscriptEntrySchema,
  type TurnInput,
} from "../gen/switchboard/v1/turn_pb.js";
import { failedPrecondition } from "./errors.js";
import { findStage, initialStage } from "./flow.js";

/**
 * historyWindow is how many transcript entries a session keeps inline. The
 * full transcript lives in the steps; the window is what agents get as
 * recent history, and it keeps session documents small.
 */
export const historyWindow = 20;

/**
 * completedStagesWindow bounds the completed-stages list a session carries,
 * so a long conversation's snapshots stay the same size; the audit trail
 * has every stage.
 */
export const completedStagesWindow = 100;

/**
 * NewSessionOptions are the facts a new session starts from.
 */
export interface NewSessionOptions {
  id: string;
  accountId: string;
  tenant: string;
  now: Date;
}

/**
 * newSession returns a session at version 0 (not yet stored) in the flow's
 * initial stage.
 */
export function newSession(flow: Flow, opts: NewSessionOptions): Session {
  const stage = initialStage(flow);
  return create(SessionSchema, {
    id: opts.id,
    accountId: opts.accountId,
    tenant: opts.tenant,
    flowId: flow.id,
    flowVersion: flow.version,
    stage: stage.name,
    state: {},
    status: SessionStatus.ACTIVE,
    version: 0n,
    createTime: timestampFromDate(opts.now),
    updateTime: timestampFromDate(opts.now),
    stageVisits: { [stage.name]: 1 },
  });
}

/**
 * TurnPlan is the decision of who serves a turn, made before any I/O.
 */
export interface TurnPlan {
  stage: Stage;
  agent: string;
  intent: string;
  /** For a hand-off: the agent that handed the conversation over. */
  handoffFrom: string;
}

/**
 * planTurn decides which stage and agent serve the next turn of a session,
 * or throws FAILED_PRECONDITION when the session cannot take it.
 */
export function planTurn(flow: Flow, session: Session, input: TurnInput): TurnPlan {
  if (session.status === SessionStatus.COMPLETED || session.status === SessionStatus.FAILED) {
    throw failedPrecondition(
      `session ${session.id} has ended (${SessionStatus[session.status].toLowerCase()}); fork it or start a new session`,
    );
  }
  const stage = findStage(flow, session.stage);
  if (stage === undefined) {
    throw new ConnectError(
      `session ${session.id} is at stage ${JSON.stringify(session.stage)}, which flow ${flow.id}@${flow.version} does not have`,
      Code.Internal,
    );
  }
  const intent = turnIntent(stage, input);
  if (intent !== "" && stage.allowedIntents.length > 0 && !stage.allowedIntents.includes(intent)) {
    throw failedPrecondition(
      `intent ${JSON.stringify(intent)} is not allowed at stage ${JSON.stringify(stage.name)}; allowed: ${stage.allowedIntents.join(", ")}`,
    );
  }
  const agent = chooseAgent(stage, intent);
  if (agent === "") {
    throw failedPrecondition(`stage ${JSON.stringify(stage.name)} has no agent for intent ${JSON.stringify(intent)}`);
  }
  return { stage, agent, intent, handoffFrom: "" };
}

/**
 * chooseAgent picks a stage's agent for an intent: the intent's own agent;
 * for an intent with none, the fallback agent; without an intent (or
 * without a fallback), the stage's agent.
 */
function chooseAgent(stage: Stage, intent: string): string {
  if (intent === "") return stage.agent || stage.fallbackAgent;
  return stage.intentAgents[intent] ?? (stage.fallbackAgent || stage.agent);
}

function turnIntent(stage: Stage, input: TurnInput): string {
  if (input.intent !== "") return input.intent;
  const event = input.event?.type ?? "";
  if (event !== "") return stage.eventIntents[event] ?? event;
  return "";
}

/**
 * AppliedTurn is a session after an agent's result was applied.
 */
export interface AppliedTurn {
  session: Session;
  step: Step;
  /** The stage the session moved to, when it moved. */
  transition?: { from: string; to: string };
  /** What to run next in the same turn, if anything. */
  chain?: { kind: "continue" } | { kind: "handoff"; agent: string };
  complete: boolean;
}

/**
 * TurnFacts are the facts about a turn the result is applied with.
 */
export interface TurnFacts {
  turnId: string;
  /** The version this turn commits: one more than the stored session's. */
  version: bigint;
  input: TurnInput;
  /** Whether this is the first stage run in the turn (records the user's words once). */
  first: boolean;
  instance: string;
  attempts: number;
  latencyMs: number;
  breaker: string;
  startedAt: Date;
  now: Date;
  ttlMs: number;
}

/**
 * applyResult applies an agent's result to a session and returns the
 * session's next version (not yet committed) with its audit-trail step.
 * It throws, committing nothing, when the result asks for something the
 * flow cannot do.
 */
export function applyResult(
  flow: Flow,
  before: Session,
  plan: TurnPlan,
  result: AgentResult,
  facts: TurnFacts,
): AppliedTurn {
  const session = clone(SessionSchema, before);
  const stage = plan.stage;
  session.state = applyPatch(session.state ?? {}, result.statePatch);
  if (facts.first) {
    const said = facts.input.text || (facts.input.event ? `[event ${facts.input.event.type}]` : "");
    if (said !== "") {
      session.history.push(
        create(TranscriptEntrySchema, { role: Role.USER, text: said, turnId: facts.turnId, stage: stage.name }),
      );
    }
  }
  if (result.text !== "") {
    session.history.push(
      create(TranscriptEntrySchema, {
        role: Role.AGENT,
        text: result.text,
        agent: plan.agent,
        turnId: facts.turnId,
        stage: stage.name,
      }),
    );
  }
  if (session.history.length > historyWindow) {
    session.history.splice(0, session.history.length - historyWindow);
  }
  session.agent = plan.agent;
  session.completedStages.push(stage.name);
  if (session.completedStages.length > completedStagesWindow) {
    session.completedStages.splice(0, session.completedStages.length - completedStagesWindow);
  }
  session.waiting = undefined;
  session.status = SessionStatus.ACTIVE;

  const next = result.next;
  const action = next?.action ?? Action.UNSPECIFIED;
  let target: string | undefined;
  let chain: AppliedTurn["chain"];
  let complete = false;
  switch (action) {
    case Action.UNSPECIFIED:
    case Action.ADVANCE:
    case Action.CONTINUE:
      target = chooseTransition(stage, session);
      if (action === Action.CONTINUE || stage.autoContinue) chain = { kind: "continue" };
      if (stage.terminal) complete = true;
      break;
    case Action.WAIT:
      session.status = SessionStatus.WAITING;
      session.waiting = {
        $typeName: "switchboard.v1.Waiting",
        reason: next?.reason || `input for stage ${stage.name}`,
        stage: stage.name,
        since: timestampFromDate(facts.now),
      };
      break;
    case Action.GOTO: {
      const to = next?.targetStage ?? "";
      if (findStage(flow, to) === undefined) {
        throw failedPrecondition(
          `agent ${plan.agent} asked to go to stage ${JSON.stringify(to)}, which flow ${flow.id} does not have`,
        );
      }
      target = to;
      break;
    }
    case Action.HANDOFF: {
      const agent = next?.targetAgent ?? "";
      if (agent === "") throw failedPrecondition(`agent ${plan.agent} asked for a hand-off without target_agent`);
      chain = { kind: "handoff", agent };
      break;
    }
    case Action.END:
      complete = true;
      break;
    case Action.FAIL:
      throw failedPrecondition(`agent ${plan.agent} failed the turn: ${next?.reason || "no reason given"}`);
  }

  let transition: AppliedTurn["transition"];
  if (target !== undefined && target !== stage.name && !complete) {
    const to = enterStage(flow, session, target);
    transition = { from: stage.name, to };
    session.previousStage = stage.name;
    session.stage = to;
    const entered = findStage(flow, to);
    if (entered?.waitReason) {
      session.status = SessionStatus.WAITING;
      session.waiting = {
        $typeName: "switchboard.v1.Waiting",
        reason: entered.waitReason,
        stage: to,
        since: timestampFromDate(facts.now),
      };
      chain = undefined;
    }
  }
  if (complete) {
    session.status = SessionStatus.COMPLETED;
    chain = undefined;
  }

  session.version = facts.version;
  session.updateTime = timestampFromDate(facts.now);
  session.expireTime = timestampFromDate(new Date(facts.now.getTime() + facts.ttlMs));
  if (complete) session.summary = summarize(session, "completed", facts.now);

  const step = create(StepSchema, {
    sessionId: session.id,
    version: session.version,
    turnId: facts.turnId,
    kind: StepKind.TURN,
    stage: stage.name,
    intent: plan.intent || result.intent,
    input: facts.input,
    agent: plan.agent,
    instance: facts.instance,
    attempts: facts.attempts,
    status: StepStatus.OK,
    latency: durationFromMs(Math.round(facts.latencyMs)),
    output: result.text,
    ...(result.statePatch ? { statePatch: result.statePatch } : {}),
    ...(result.next ? { next: result.next } : {}),
    nextStage: session.stage,
    startTime: timestampFromDate(facts.startedAt),
    endTime: timestampFromDate(facts.now),
    breaker: facts.breaker,
    details: plan.handoffFrom ? { handoff_from: plan.handoffFrom } : {},
  });
  return { session, step, ...(transition ? { transition } : {}), ...(chain ? { chain } : {}), complete };
}

/**
 * chooseTransition returns the stage the first applicable transition leads
 * to, or undefined to stay. Transitions without a condition always apply.
 */
function chooseTransition(stage: Stage, session: Session): string | undefined {
  for (const t of stage.transitions) {
    if (t.when !== "") continue; // conditions are evaluated by the flow engine's CEL layer
    if (t.back) return session.previousStage || undefined;
    return t.to;
  }
  return undefined;
}

/**
 * enterStage counts a visit to a stage and applies its loop bound: past
 * `max_visits`, the session goes to `on_max_visits` instead.
 */
function enterStage(flow: Flow, session: Session, name: string): string {
  const stage = findStage(flow, name);
  const visits = (session.stageVisits[name] ?? 0) + 1;
  if (stage !== undefined && stage.maxVisits > 0 && visits > stage.maxVisits) {
    if (stage.onMaxVisits === "") {
      throw failedPrecondition(`stage ${JSON.stringify(name)} was entered more than its max_visits (${stage.maxVisits})`);
    }
    return enterStage(flow, session, stage.onMaxVisits);
  }
  session.stageVisits[name] = visits;
  return name;
}

/**
 * applyPatch sets each key of the patch in the state; a null value removes
 * the key. Nested objects replace the value under their key as a whole.
 */
export function applyPatch(state: JsonObject, patch: JsonObject | undefined): JsonObject {
  if (patch === undefined) return state;
  const next: { [k: string]: JsonValue } = { ...state };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

function summarize(session: Session, outcome: string, now: Date) {
  const created = session.createTime ? timestampMs(session.createTime) : now.getTime();
  return create(SessionSummarySchema, {
    outcome,
    stages: [...session.completedStages],
    agents: [...new Set(session.history.filter((m) => m.agent !== "").map((m) => m.agent))],
    turns: Number(session.version),
    duration: durationFromMs(now.getTime() - created),
  });
}
