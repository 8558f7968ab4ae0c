import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { copyMessage } from "./copy-message.js";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Flow, Stage } from "../gen/switchboard/v1/flow_pb.js";
import {
  PendingCompensationSchema,
  type Session,
  SessionStatus,
  SessionTallySchema,
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
import { type BranchView, celVars } from "./cel-vars.js";
import { failedPrecondition, mark } from "./errors.js";
import { findStage } from "./flow.js";
import { flowProgram, missingKeyHint, transitionLabel } from "./flow-program.js";
import { leaveStage, noteAgent, noteIntent, noteTurn, summarize } from "./tally.js";
import type { TurnPlan } from "./turn-plan.js";

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
  /** For a parallel stage: how each branch went, as transitions see it. */
  branches?: Record<string, BranchView>;
  /** For a parallel stage: the agents of the branches that succeeded. */
  branchAgents?: string[];
}

/**
 * applyResult applies an agent's result to a session and returns the
 * session's next version (not yet committed) with its audit-trail step.
 * It throws, committing nothing, when the result asks for something the
 * flow cannot do; ACTION_FAIL throws an error marked as a stage failure.
 */
export function applyResult(
  flow: Flow,
  before: Session,
  plan: TurnPlan,
  result: AgentResult,
  facts: TurnFacts,
): AppliedTurn {
  const session = nextVersionOf(before);
  const stage = plan.stage;
  session.state = applyPatch(session.state ?? {}, result.statePatch);
  if (facts.first) {
    noteTurn(session);
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
  if (plan.agent !== "") session.agent = plan.agent;
  noteAgent(session, plan.agent);
  for (const agent of facts.branchAgents ?? []) noteAgent(session, agent);
  noteIntent(session, plan.explicit ? plan.intent : "");
  noteIntent(session, result.intent);
  // The conversation's intent: what an agent recognised, or what the turn
  // named at a stage that routes by intent. Events route, but do not change it.
  if (result.intent !== "") session.intent = result.intent;
  else if (plan.explicit && facts.input.intent !== "" && Object.keys(stage.intentAgents).length > 0) {
    session.intent = facts.input.intent;
  }
  // A hand-off continues the stage the handing agent ran: one completion.
  if (plan.handoffFrom === "") session.completedStages.push(stage.name);
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
      if (stage.terminal) {
        complete = true;
        break;
      }
      target = chooseTransition(flow, stage, session, facts, result);
      if (action === Action.CONTINUE || stage.autoContinue) chain = { kind: "continue" };
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
      throw mark(
        failedPrecondition(`agent ${plan.agent} failed the turn: ${next?.reason || "no reason given"}`),
        "stage-failure",
      );
  }

  let transition: AppliedTurn["transition"];
  if (target !== undefined && !complete) {
    const moving = target !== stage.name;
    if (moving) oweCompensation(session, stage, plan, facts);
    // Leaving the stage, or explicitly entering it again (a loop, which
    // counts against max_visits); staying without a transition does neither.
    leaveStage(session, facts.now);
    const to = enterStage(flow, session, target);
    if (to !== stage.name) {
      if (!moving) oweCompensation(session, stage, plan, facts);
      transition = { from: stage.name, to };
      session.previousStage = stage.name;
      session.stage = to;
    }
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
    oweCompensation(session, stage, plan, facts);
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
    details: {
      ...(plan.handoffFrom ? { handoff_from: plan.handoffFrom } : {}),
      ...(facts.branches ? { branches: Object.entries(facts.branches).map(([b, v]) => `${b}=${v.status}`).join(",") } : {}),
    },
  });
  return { session, step, ...(transition ? { transition } : {}), ...(chain ? { chain } : {}), complete };
}

/**
 * nextVersionOf starts a session's next version from `before`, sharing
 * what applyResult only ever replaces (the state, timestamps, waiting,
 * summary, origin) or reads (each transcript entry), and copying what it
 * changes in place: the lists and maps it adds to, and the tally. A deep
 * copy of the whole session here was a third of the session copying a
 * turn did. `before` stays as it was.
 */
function nextVersionOf(before: Session): Session {
  const session: Session = {
    ...before,
    completedStages: [...before.completedStages],
    history: [...before.history],
    stageVisits: { ...before.stageVisits },
    compensations: [...before.compensations],
  };
  if (before.tally !== undefined) session.tally = copyMessage(SessionTallySchema, before.tally);
  return session;
}

/**
 * chooseTransition returns the stage the first transition whose condition
 * holds leads to, or undefined to stay. A transition without a condition
 * always holds. Conditions see the state after the agent's patch, the
 * turn's input, the agent's result and the session.
 */
function chooseTransition(
  flow: Flow,
  stage: Stage,
  session: Session,
  facts: TurnFacts,
  result: AgentResult,
): string | undefined {
  const program = flowProgram(flow);
  const compiled = program.stages.get(stage.name)?.transitions ?? [];
  let vars: ReturnType<typeof celVars> | undefined;
  for (const [i, t] of stage.transitions.entries()) {
    if (t.when !== "") {
      const condition = compiled[i]?.program;
      const label = `transition #${i + 1} (${transitionLabel(t)}) of stage ${JSON.stringify(stage.name)}`;
      if (condition === undefined) {
        throw failedPrecondition(`${label}: condition does not compile: ${compiled[i]?.problem ?? t.when}`);
      }
      vars ??= celVars(session, facts.input, result, facts.branches);
      const holds = condition.evaluate(vars);
      if (holds instanceof Error) {
        throw failedPrecondition(`${label}: condition ${JSON.stringify(t.when)} could not be evaluated: ${holds.message}${missingKeyHint(holds.message)}`);
      }
      if (!holds) continue;
    }
    program.probe?.taken(stage.name, i);
    if (t.back) return session.previousStage || undefined;
    return t.to;
  }
  return undefined;
}

/**
 * maxPendingCompensations bounds the compensations a session may owe, so a
 * flow that loops through compensated stages cannot grow it without end.
 */
export const maxPendingCompensations = 256;

/**
 * oweCompensation records the compensation a stage declares once the
 * session leaves the stage (a completed step of the saga).
 */
function oweCompensation(session: Session, stage: Stage, plan: TurnPlan, facts: TurnFacts): void {
  const c = stage.compensation;
  if (c === undefined) return;
  const agent = c.agent || plan.agent;
  if (agent === "") return;
  if (session.compensations.length >= maxPendingCompensations) {
    throw failedPrecondition(
      `session ${session.id} already owes ${maxPendingCompensations} compensations; a flow that loops through stages with a compensation must end or settle them`,
    );
  }
  session.compensations.push(
    create(PendingCompensationSchema, { stage: stage.name, agent, intent: c.intent, turnId: facts.turnId, version: facts.version }),
  );
}

/**
 * enterStage counts a visit to a stage and applies its loop bound: past
 * `max_visits`, the session goes to `on_max_visits` instead.
 */
export function enterStage(flow: Flow, session: Session, name: string): string {
  const stage = findStage(flow, name);
  const visits = (session.stageVisits[name] ?? 0) + 1;
  if (stage !== undefined && stage.maxVisits > 0 && visits > stage.maxVisits) {
    if (stage.onMaxVisits === "") {
      throw failedPrecondition(`stage ${JSON.stringify(name)} was entered more than its max_visits (${stage.maxVisits})`);
    }
    flowProgram(flow).probe?.taken(name, "on_max_visits");
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
