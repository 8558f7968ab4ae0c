import { Code, type Client, ConnectError } from "@connectrpc/connect";
import type { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import type { Session, SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import type { SessionHistory } from "../testing/case-record.js";
import { allPages } from "./sessions.js";

/**
 * fetchHistory reads a stored session with its whole audit trail and every
 * snapshot through the orchestrator's API (GetSession, ListSteps,
 * ListSnapshots). It only reads.
 */
export async function fetchHistory(client: Client<typeof OrchestratorService>, sessionId: string): Promise<SessionHistory> {
  const { session } = await client.getSession({ sessionId });
  if (session === undefined) throw new ConnectError(`session ${sessionId} not found`, Code.NotFound);
  const steps = await allPages(
    async (pageToken) => {
      const page = await client.listSteps({ sessionId, pageSize: 1000, pageToken });
      return { items: page.steps, next: page.nextPageToken };
    },
    undefined,
    "steps",
  );
  const snapshots = await allPages(
    async (pageToken) => {
      const page = await client.listSnapshots({ sessionId, pageSize: 1000, pageToken });
      return { items: page.snapshots, next: page.nextPageToken };
    },
    undefined,
    "snapshots",
  );
  return { session, steps, snapshots };
}

/**
 * SessionPick narrows a batch of sessions: by flow, flow version and status.
 */
export interface SessionPick {
  flow?: string;
  version?: string;
  status?: SessionStatus;
}

/**
 * listSessionIds pages through the stored sessions and returns the ids of
 * those the pick names, most recently updated first, at most `limit`.
 */
export async function listSessionIds(client: Client<typeof OrchestratorService>, pick: SessionPick, limit: number): Promise<string[]> {
  const fits = (s: Session) => (pick.flow === undefined || s.flowId === pick.flow) && (pick.version === undefined || s.flowVersion === pick.version);
  const sessions = await allPages(
    async (pageToken) => {
      const page = await client.listSessions({ ...(pick.status !== undefined ? { status: pick.status } : {}), pageSize: 1000, pageToken });
      return { items: page.sessions.filter(fits), next: page.nextPageToken };
    },
    undefined,
    "sessions",
    limit,
  );
  return sessions.slice(0, limit).map((s) => s.id);
}
