import { create } from "@bufbuild/protobuf";
import { durationMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ClearRolloutResponseSchema,
  GetFlowStatsResponseSchema,
  GetRolloutResponseSchema,
  ListRolloutChangesResponseSchema,
  type RolloutService,
  SetRolloutResponseSchema,
} from "../gen/switchboard/v1/rollout_pb.js";
import { invalidArgument } from "../core/errors.js";
import { validateId } from "../core/ids.js";
import { anyTenant, identityOf } from "./identity.js";
import type { Rollouts } from "./rollouts.js";

/** defaultStatsWindowMs is the window GetFlowStats counts when the caller names none: a day. */
const defaultStatsWindowMs = 24 * 3_600_000;

/**
 * actorOf names the caller in the audit trail: the token's subject and
 * tenant, or "anonymous" when authentication is off.
 */
export function actorOf(ctx: Pick<HandlerContext, "values">): string {
  const identity = identityOf(ctx);
  return identity === undefined ? "anonymous" : `${identity.subject} (${identity.tenant === anyTenant ? "operator" : `tenant ${identity.tenant}`})`;
}

/**
 * operatorOnly refuses tenant tokens: a rollout and its outcomes span
 * every tenant's sessions, so only operators (or a server without
 * authentication) may see or change them.
 */
function operatorOnly(ctx: HandlerContext): void {
  const identity = identityOf(ctx);
  if (identity !== undefined && identity.tenant !== anyTenant) {
    throw new ConnectError(
      `rollouts span every tenant's sessions; token ${identity.subject} is scoped to tenant ${identity.tenant}: use an operator token (tenant "*")`,
      Code.PermissionDenied,
    );
  }
}

/**
 * rolloutService implements switchboard.v1.RolloutService over Rollouts.
 */
export function rolloutService(rollouts: Rollouts): ServiceImpl<typeof RolloutService> {
  return {
    async setRollout(req, ctx) {
      operatorOnly(ctx);
      const flowId = validateId("flow_id", req.flowId);
      const rollout = await rollouts.set(flowId, req.weights, req.guard, req.expectedRevision, actorOf(ctx));
      return create(SetRolloutResponseSchema, { rollout });
    },

    async getRollout(req, ctx) {
      operatorOnly(ctx);
      const flowId = validateId("flow_id", req.flowId);
      const rollout = await rollouts.rollout(flowId);
      return create(GetRolloutResponseSchema, { rollout, servedRevision: rollouts.servedRevision(flowId), newestVersion: rollouts.newestVersion(flowId) });
    },

    async clearRollout(req, ctx) {
      operatorOnly(ctx);
      await rollouts.clear(validateId("flow_id", req.flowId), actorOf(ctx));
      return create(ClearRolloutResponseSchema, {});
    },

    async listRolloutChanges(req, ctx) {
      operatorOnly(ctx);
      if (req.pageSize < 0 || req.pageSize > 1000) throw invalidArgument("page_size", `${req.pageSize} is not from 0 to 1000`);
      const changes = await rollouts.changes(validateId("flow_id", req.flowId), req.pageSize || 50);
      return create(ListRolloutChangesResponseSchema, { changes });
    },

    async getFlowStats(req, ctx) {
      operatorOnly(ctx);
      const flowId = validateId("flow_id", req.flowId);
      const windowMs = req.since === undefined ? defaultStatsWindowMs : durationMs(req.since);
      if (!(windowMs >= 0)) throw invalidArgument("since", "must not be negative");
      const since = windowMs === 0 ? undefined : new Date(Date.now() - windowMs);
      const { versions, handOffStages } = await rollouts.stats(flowId, since);
      return create(GetFlowStatsResponseSchema, { versions, handOffStages, ...(since ? { since: timestampFromDate(since) } : {}) });
    },
  };
}
