import type { JsonObject } from "@bufbuild/protobuf";
import { type Session, SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { Action, type AgentResult, type TurnInput } from "../gen/switchboard/v1/turn_pb.js";
import type { CelVars } from "./cel.js";

/**
 * BranchView is what a transition sees of one branch of a parallel stage.
 */
export interface BranchView {
  status: "ok" | "failed" | "cancelled";
  text: string;
  error: string;
}

/**
 * celVars binds a turn's facts to the variables CEL expressions read, with
 * proto field names (`session.account_id`, `result.state_patch`) and enum
 * values as lower-case names (`result.next.action == "wait"`,
 * `session.status == "active"`). `permissions` is the turn's
 * `input.metadata.permissions`, split on commas and spaces.
 */
export function celVars(
  session: Session,
  input: TurnInput | undefined,
  result?: AgentResult,
  branches?: Record<string, BranchView>,
): CelVars {
  const metadata = input?.metadata ?? {};
  return {
    state: (session.state ?? {}) as CelVars["state"],
    input: {
      text: input?.text ?? "",
      intent: input?.intent ?? "",
      event: { type: input?.event?.type ?? "", data: (input?.event?.data ?? {}) as JsonObject as CelVars["state"] },
      metadata: { ...metadata },
    },
    result: {
      text: result?.text ?? "",
      intent: result?.intent ?? "",
      state_patch: (result?.statePatch ?? {}) as CelVars["state"],
      next: {
        action: enumName(Action, result?.next?.action ?? Action.UNSPECIFIED),
        target_stage: result?.next?.targetStage ?? "",
        target_agent: result?.next?.targetAgent ?? "",
        reason: result?.next?.reason ?? "",
      },
      metadata: { ...(result?.metadata ?? {}) },
      branches: Object.fromEntries(Object.entries(branches ?? {}).map(([k, v]) => [k, { ...v }])),
    },
    session: {
      id: session.id,
      account_id: session.accountId,
      tenant: session.tenant,
      flow_id: session.flowId,
      flow_version: session.flowVersion,
      stage: session.stage,
      previous_stage: session.previousStage,
      status: enumName(SessionStatus, session.status),
      version: session.version,
      intent: session.intent,
      agent: session.agent,
      completed_stages: [...session.completedStages],
      stage_visits: { ...session.stageVisits },
      waiting: { reason: session.waiting?.reason ?? "", stage: session.waiting?.stage ?? "" },
    },
    permissions: (metadata["permissions"] ?? "").split(/[\s,]+/).filter((p) => p !== ""),
  };
}

function enumName(e: Record<number, string>, v: number): string {
  // protobuf-es enums map numbers back to their names without the prefix.
  return (e[v] ?? "unspecified").toLowerCase();
}
