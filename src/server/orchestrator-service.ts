import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  DeleteSessionResponseSchema,
  ForkSessionResponseSchema,
  GetSessionResponseSchema,
  ListFlowsResponseSchema,
  ListSessionsResponseSchema,
  ListSnapshotsResponseSchema,
  ListStepsResponseSchema,
  MigrateSessionResponseSchema,
  OrchestratorService,
  ReloadFlowsResponseSchema,
  RollbackSessionResponseSchema,
  type SendTurnRequest,
} from "../gen/switchboard/v1/orchestrator_pb.js";
import { type Session, SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { type TurnInput, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import type { TurnRequest } from "../core/turn-request.js";
import { failedPrecondition, invalidArgument, notFound } from "../core/errors.js";
import { validateId, validateOptionalId } from "../core/ids.js";
import type { SessionStore } from "../core/ports.js";
import type { Engine } from "../core/engine.js";
import { type FlowCatalog, FlowLoadError, type LoadedFlows } from "./flow-catalog.js";
import { sessionOfCaller, tenantScopeOf } from "./identity.js";
import { checkStructDepth } from "./input-depth.js";
import type { TurnEntry } from "./turn-entry.js";
import { sendTurnView } from "./turn-view.js";

/**
 * Limits on a turn's input, checked before anything runs.
 */
export const inputLimits = {
  textChars: 64 * 1024,
  metadataEntries: 64,
  metadataValueChars: 4096,
};

const namePattern = /^[A-Za-z0-9._:/-]{1,128}$/;

/**
 * OrchestratorDeps are what the OrchestratorService handlers need.
 */
export interface OrchestratorDeps {
  /** The one way into running a turn. */
  entry: TurnEntry;
  /** Rolls back, forks and migrates sessions (the engine is their only writer). */
  engine: Pick<Engine, "rollback" | "fork" | "migrate">;
  store: SessionStore;
  flows: FlowCatalog;
  /** Reads the flow directory again; see Orchestrator.reloadFlows. */
  reloadFlows: () => LoadedFlows;
  /** The most versions a session may have; rollbacks and migrations beyond it are refused. */
  maxSessionVersions?: number;
}

/**
 * orchestratorService implements switchboard.v1.OrchestratorService.
 */
export function orchestratorService(deps: OrchestratorDeps): Partial<ServiceImpl<typeof OrchestratorService>> {
  const { entry, engine, store, flows, reloadFlows } = deps;
  const sessionOrNotFound = (id: string, ctx: HandlerContext) => sessionOfCaller(store, validateId("session_id", id), ctx);
  // A rollback or migration adds a version; past the most a session may
  // have, only a fork (a new session) goes on.
  const checkVersionRoom = (current: Session) => {
    if (deps.maxSessionVersions !== undefined && current.version >= BigInt(deps.maxSessionVersions)) {
      throw new ConnectError(
        `session ${current.id} has reached ${current.version} versions, the most a session may have; fork it instead`,
        Code.ResourceExhausted,
      );
    }
  };
  return {
    async sendTurn(req, ctx) {
      // A unary caller sees only the result: the turn may run again after
      // losing a race to another replica.
      const turn: TurnRequest = { ...turnRequest(req, ctx), rerun: "anytime" };
      const end = await entry.run(turn, {
        ctx,
        signal: ctx.signal,
        deadline: deadlineOf(ctx),
        whenDraining: "send the turn to another replica",
      });
      if ("error" in end) throw end.error;
      return sendTurnView(end.result, req.view);
    },

    async getSession(req, ctx) {
      return create(GetSessionResponseSchema, { session: await sessionOrNotFound(req.sessionId, ctx) });
    },

    async listSessions(req, ctx) {
      if (req.pageSize < 0) throw invalidArgument("page_size", "must not be negative");
      const scope = tenantScopeOf(ctx);
      const page = await store.list(
        {
          ...(req.status === SessionStatus.UNSPECIFIED ? {} : { status: req.status }),
          ...(scope.anyTenant ? {} : { tenant: scope.tenant }),
          ...(req.flowId !== "" ? { flowId: validateId("flow_id", req.flowId) } : {}),
          ...(req.flowVersion !== "" ? { flowVersion: validateId("flow_version", req.flowVersion) } : {}),
          ...(req.agent !== "" ? { agent: validateId("agent", req.agent) } : {}),
        },
        { pageSize: Math.min(req.pageSize || 50, 500), pageToken: req.pageToken },
      );
      return create(ListSessionsResponseSchema, { sessions: page.items, nextPageToken: page.nextPageToken });
    },

    async listSteps(req, ctx) {
      await sessionOrNotFound(req.sessionId, ctx);
      if (req.pageSize < 0) throw invalidArgument("page_size", "must not be negative");
      const page = await store.listSteps(req.sessionId, { pageSize: req.pageSize, pageToken: req.pageToken });
      return create(ListStepsResponseSchema, { steps: page.items, nextPageToken: page.nextPageToken });
    },

    async listSnapshots(req, ctx) {
      await sessionOrNotFound(req.sessionId, ctx);
      if (req.pageSize < 0) throw invalidArgument("page_size", "must not be negative");
      const page = await store.listSnapshots(req.sessionId, { pageSize: req.pageSize, pageToken: req.pageToken });
      return create(ListSnapshotsResponseSchema, { snapshots: page.items, nextPageToken: page.nextPageToken });
    },

    async rollbackSession(req, ctx) {
      validateId("session_id", req.sessionId);
      if (req.version < 1n) throw invalidArgument("version", "must be 1 or more");
      checkVersionRoom(await sessionOrNotFound(req.sessionId, ctx));
      return create(RollbackSessionResponseSchema, { session: await engine.rollback(req.sessionId, req.version) });
    },

    async migrateSession(req, ctx) {
      validateId("session_id", req.sessionId);
      if (req.toVersion === "") throw invalidArgument("to_version", 'missing: name the flow version to move the session to, e.g. "2"');
      validateId("to_version", req.toVersion);
      const current = await sessionOrNotFound(req.sessionId, ctx);
      if (!req.validateOnly) checkVersionRoom(current);
      const moved = await engine.migrate(req.sessionId, req.toVersion, req.validateOnly);
      return create(MigrateSessionResponseSchema, { session: moved.session, fromVersion: moved.fromVersion, fromStage: moved.fromStage });
    },

    async forkSession(req, ctx) {
      validateId("session_id", req.sessionId);
      validateOptionalId("new_session_id", req.newSessionId);
      if (req.version < 0n) throw invalidArgument("version", "must not be negative");
      await sessionOrNotFound(req.sessionId, ctx);
      return create(ForkSessionResponseSchema, {
        session: await engine.fork(req.sessionId, req.version, req.newSessionId),
      });
    },

    async deleteSession(req, ctx) {
      await sessionOrNotFound(req.sessionId, ctx);
      if (!(await store.delete(req.sessionId))) throw notFound(`session ${req.sessionId}`);
      return create(DeleteSessionResponseSchema, {});
    },

    async listFlows() {
      return create(ListFlowsResponseSchema, { flows: flows.all() });
    },

    async reloadFlows() {
      try {
        return create(ReloadFlowsResponseSchema, reloadFlows());
      } catch (e) {
        if (e instanceof FlowLoadError) {
          throw failedPrecondition(`flows not reloaded, nothing changed; fix these and reload again:\n${e.problems.join("\n")}`);
        }
        throw failedPrecondition(`flows not reloaded: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

/**
 * turnRequest validates a SendTurnRequest (or a Converse turn in its shape)
 * and turns it into the engine's TurnRequest; every problem names the field
 * to fix. `streaming` allows a turn to start without input.
 */
export function turnRequest(
  req: Pick<SendTurnRequest, "sessionId" | "accountId" | "flowId" | "turnId" | "input">,
  ctx: Pick<HandlerContext, "values" | "requestHeader">,
  streaming = false,
): TurnRequest {
  validateOptionalId("session_id", req.sessionId);
  validateOptionalId("account_id", req.accountId);
  validateOptionalId("flow_id", req.flowId);
  validateOptionalId("turn_id", req.turnId);
  if (req.input === undefined && !streaming) {
    throw invalidArgument("input", "missing: a turn needs input with text, an intent or an event");
  }
  const input = req.input ?? create(TurnInputSchema, {});
  validateInput(input, streaming);
  const metadata: Record<string, string> = {};
  const traceparent = ctx.requestHeader.get("traceparent");
  if (traceparent !== null) metadata["traceparent"] = traceparent;
  const scope = tenantScopeOf(ctx);
  return {
    sessionId: req.sessionId,
    accountId: req.accountId,
    flowId: req.flowId,
    turnId: req.turnId,
    input,
    tenant: scope.tenant,
    anyTenant: scope.anyTenant,
    metadata,
  };
}

/**
 * validateInput checks a turn's input: something to act on (unless more
 * is streamed in), within limits.
 */
export function validateInput(input: TurnInput, streaming = false): void {
  const eventType = input.event?.type ?? "";
  if (input.text === "" && input.intent === "" && eventType === "" && !streaming) {
    throw invalidArgument("input", "empty: set input.text, input.intent or input.event.type");
  }
  if (input.text.length > inputLimits.textChars) {
    throw invalidArgument("input.text", `${input.text.length} characters, more than the limit of ${inputLimits.textChars}`);
  }
  if (input.intent !== "" && !namePattern.test(input.intent)) {
    throw invalidArgument("input.intent", `${JSON.stringify(input.intent.slice(0, 40))} is not a valid intent name (1 to 128 of A-Z a-z 0-9 . _ : / -)`);
  }
  if (input.event !== undefined && !namePattern.test(eventType)) {
    throw invalidArgument("input.event.type", `${JSON.stringify(eventType.slice(0, 40))} is not a valid event type (1 to 128 of A-Z a-z 0-9 . _ : / -)`);
  }
  if (input.event?.data !== undefined) checkStructDepth("input.event.data", input.event.data);
  const entries = Object.entries(input.metadata);
  if (entries.length > inputLimits.metadataEntries) {
    throw invalidArgument("input.metadata", `${entries.length} entries, more than the limit of ${inputLimits.metadataEntries}`);
  }
  for (const [key, value] of entries) {
    if (!namePattern.test(key)) throw invalidArgument("input.metadata", `key ${JSON.stringify(key.slice(0, 40))} is not valid`);
    if (value.length > inputLimits.metadataValueChars) {
      throw invalidArgument(`input.metadata[${key}]`, `longer than ${inputLimits.metadataValueChars} characters`);
    }
  }
}

/**
 * deadlineOf returns the caller's deadline as an absolute time, if it set one.
 */
function deadlineOf(ctx: HandlerContext): number | undefined {
  const ms = ctx.timeoutMs();
  return ms === undefined ? undefined : Date.now() + ms;
}

