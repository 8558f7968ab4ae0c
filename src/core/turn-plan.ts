import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Flow, Stage } from "../gen/switchboard/v1/flow_pb.js";
import { type Session, SessionSchema, SessionStatus, SessionTallySchema } from "../gen/switchboard/v1/session_pb.js";
import type { TurnInput } from "../gen/switchboard/v1/turn_pb.js";
import { failedPrecondition } from "./errors.js";
import { findStage, initialStage } from "./flow.js";

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
    tally: create(SessionTallySchema, { stageSince: timestampFromDate(opts.now) }),
  });
}

/**
 * TurnPlan is the decision of who serves a turn, made before any I/O.
 */
export interface TurnPlan {
  stage: Stage;
  /** The agent to call; empty for a parallel stage, whose branches are called. */
  agent: string;
  /** The intent the turn is routed by (its own, or the conversation's). */
  intent: string;
  /** Whether `intent` came with the turn (its intent or event) rather than from the conversation. */
  explicit: boolean;
  /** For a hand-off: the agent that handed the conversation over. */
  handoffFrom: string;
}

/**
 * planTurn decides which stage and agent serve the next turn of a session,
 * or throws FAILED_PRECONDITION when the session cannot take it. A
 * `chained` turn is a stage run in the same turn after another one: the
 * turn's own intent and event were consumed by the first stage.
 */
export function planTurn(flow: Flow, session: Session, input: TurnInput, chained = false): TurnPlan {
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
  const own = chained ? "" : turnIntent(stage, input);
  if (own !== "" && stage.allowedIntents.length > 0 && !stage.allowedIntents.includes(own)) {
    throw failedPrecondition(
      `intent ${JSON.stringify(own)} is not allowed at stage ${JSON.stringify(stage.name)}; allowed: ${stage.allowedIntents.join(", ")}`,
    );
  }
  const intent = own || session.intent;
  if (stage.parallel !== undefined) return { stage, agent: "", intent, explicit: own !== "", handoffFrom: "" };
  const agent = chooseAgent(stage, session, own);
  if (agent === "") {
    throw failedPrecondition(`stage ${JSON.stringify(stage.name)} has no agent for intent ${JSON.stringify(intent)}`);
  }
  return { stage, agent, intent, explicit: own !== "", handoffFrom: "" };
}

/**
 * chooseAgent picks a stage's agent. A turn's own intent goes to its agent
 * in `intent_agents`, else to the fallback agent, else to the stage's
 * agent. Without one, a session that stayed in the stage goes back to the
 * agent that served it last (the conversation continues with it, also
 * after a hand-off); a stage that routes by intent uses the conversation's
 * intent (unknown ones to the fallback agent); other stages use their agent.
 */
function chooseAgent(stage: Stage, session: Session, own: string): string {
  if (own !== "") return stage.intentAgents[own] ?? (stage.fallbackAgent || stage.agent);
  if (session.agent !== "" && stayed(session)) return session.agent;
  const routed = Object.keys(stage.intentAgents).length > 0;
  if (routed && session.intent !== "") {
    return stage.intentAgents[session.intent] ?? (stage.fallbackAgent || stage.agent);
  }
  return stage.agent || stage.fallbackAgent;
}

/**
 * stayed tells whether the last stage that ran is the session's current one.
 */
function stayed(session: Session): boolean {
  return session.completedStages.length > 0 && session.completedStages[session.completedStages.length - 1] === session.stage;
}

function turnIntent(stage: Stage, input: TurnInput): string {
  if (input.intent !== "") return input.intent;
  const event = input.event?.type ?? "";
  if (event !== "") return stage.eventIntents[event] ?? event;
  return "";
}
