import { useState } from "preact/hooks";
import type { Session } from "../../../src/gen/switchboard/v1/session_pb.js";
import { SessionStatus } from "../../../src/gen/switchboard/v1/session_pb.js";
import type { Api } from "../api.js";
import { statusLabel, timeLabel } from "../format.js";
import { usePolled } from "../hooks.js";
import { hrefOf, onLinkClick } from "../route.js";

/**
 * Filters narrow the sessions list, as ListSessions takes them.
 */
interface Filters {
  status: SessionStatus;
  flowId: string;
  flowVersion: string;
  agent: string;
}

const statuses: Array<[SessionStatus, string]> = [
  [SessionStatus.UNSPECIFIED, "any status"],
  [SessionStatus.WAITING, "waiting"],
  [SessionStatus.ACTIVE, "active"],
  [SessionStatus.COMPLETED, "completed"],
  [SessionStatus.FAILED, "failed"],
];

const pageSize = 20;
const refreshMs = 2000;

/**
 * SessionsView lists sessions with filters: the ones waiting for a human
 * first (the supervisor's queue), then every session, page by page.
 */
export function SessionsView({ api }: { api: Api }) {
  const [filters, setFilters] = useState<Filters>({ status: SessionStatus.UNSPECIFIED, flowId: "", flowVersion: "", agent: "" });
  const [flows] = usePolled(async () => (await api.orchestrator.listFlows({})).flows, [api]);
  const [agents] = usePolled(async () => (await api.registry.listAgents({})).instances, [api]);
  const flowIds = flows.state === "ok" ? [...new Set(flows.value.map((f) => f.id))] : [];
  const versions = flows.state === "ok" ? flows.value.filter((f) => f.id === filters.flowId).map((f) => f.version) : [];
  const agentNames = agents.state === "ok" ? [...new Set(agents.value.map((i) => i.card?.name ?? ""))].filter((n) => n !== "") : [];
  const set = (patch: Partial<Filters>) => setFilters({ ...filters, ...patch });
  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <form class="filters" role="search" aria-label="Filter sessions" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={String(filters.status)} onChange={(e) => set({ status: Number(e.currentTarget.value) as SessionStatus })}>
            {statuses.map(([value, label]) => (
              <option value={String(value)}>{label}</option>
            ))}
          </select>
        </label>
        <label>
          Flow
          <select value={filters.flowId} onChange={(e) => set({ flowId: e.currentTarget.value, flowVersion: "" })}>
            <option value="">any flow</option>
            {flowIds.map((id) => (
              <option value={id}>{id}</option>
            ))}
          </select>
        </label>
        <label>
          Version
          <select value={filters.flowVersion} disabled={filters.flowId === ""} onChange={(e) => set({ flowVersion: e.currentTarget.value })}>
            <option value="">any version</option>
            {versions.map((v) => (
              <option value={v}>{v}</option>
            ))}
          </select>
        </label>
        <label>
          Agent
          <select value={filters.agent} onChange={(e) => set({ agent: e.currentTarget.value })}>
            <option value="">any agent</option>
            {agentNames.map((n) => (
              <option value={n}>{n}</option>
            ))}
          </select>
        </label>
      </form>
      {(filters.status === SessionStatus.UNSPECIFIED || filters.status === SessionStatus.WAITING) && (
        <SessionTable api={api} title="Waiting for a human" filters={{ ...filters, status: SessionStatus.WAITING }} waiting />
      )}
      {filters.status !== SessionStatus.WAITING && <SessionTable api={api} title={filters.status === SessionStatus.UNSPECIFIED ? "All sessions" : `${statusLabel(filters.status)} sessions`} filters={filters} />}
    </section>
  );
}

function SessionTable({ api, title, filters, waiting = false }: { api: Api; title: string; filters: Filters; waiting?: boolean }) {
  // The tokens of the pages before this one, to go back.
  const [tokens, setTokens] = useState<string[]>([""]);
  const token = tokens[tokens.length - 1] ?? "";
  const key = JSON.stringify({ ...filters, status: String(filters.status) });
  const [page] = usePolled(
    () => api.orchestrator.listSessions({ ...filters, pageSize, pageToken: token }),
    [api, key, token],
    refreshMs,
  );
  const [lastKey, setLastKey] = useState(key);
  if (lastKey !== key) {
    setLastKey(key);
    setTokens([""]);
  }
  const id = `table-${title.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <section aria-labelledby={id} class="panel">
      <h3 id={id}>{title}</h3>
      {page.state === "loading" && <p>Loading…</p>}
      {page.state === "error" && <p role="alert" class="error">{page.message}</p>}
      {page.state === "ok" && page.value.sessions.length === 0 && <p class="empty">{waiting ? "No session is waiting." : "No sessions."}</p>}
      {page.state === "ok" && page.value.sessions.length > 0 && (
        <table data-testid={waiting ? "waiting-sessions" : "sessions"}>
          <caption class="visually-hidden">{title}</caption>
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Status</th>
              <th scope="col">Flow</th>
              <th scope="col">Stage</th>
              <th scope="col">Last agent</th>
              <th scope="col">Version</th>
              <th scope="col">Updated</th>
              {waiting && <th scope="col">Waiting for</th>}
            </tr>
          </thead>
          <tbody>
            {page.value.sessions.map((s) => (
              <SessionRow s={s} waiting={waiting} />
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label={`${title} pages`}>
        <button type="button" disabled={tokens.length <= 1} onClick={() => setTokens(tokens.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {tokens.length}</span>
        <button
          type="button"
          disabled={page.state !== "ok" || page.value.nextPageToken === ""}
          onClick={() => page.state === "ok" && setTokens([...tokens, page.value.nextPageToken])}
        >
          Next page
        </button>
      </nav>
    </section>
  );
}

function SessionRow({ s, waiting }: { s: Session; waiting: boolean }) {
  return (
    <tr data-session={s.id}>
      <td>
        <a href={hrefOf({ view: "session", id: s.id })} onClick={onLinkClick}>
          {s.id}
        </a>
      </td>
      <td>
        <span class={`status status-${statusLabel(s.status)}`}>{statusLabel(s.status)}</span>
      </td>
      <td>
        {s.flowId}@{s.flowVersion}
      </td>
      <td>{s.stage}</td>
      <td>{s.agent || "—"}</td>
      <td>{String(s.version)}</td>
      <td>{timeLabel(s.updateTime)}</td>
      {waiting && <td>{s.waiting?.reason ?? ""}</td>}
    </tr>
  );
}
