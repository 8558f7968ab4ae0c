import { useEffect, useState } from "preact/hooks";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Api } from "../api.js";
import { errorText, statusLabel, timeLabel } from "../format.js";
import { usePolled } from "../hooks.js";
import { applyEvent, emptyTranscript, rewindTo, type Transcript } from "../live-transcript.js";
import { AuditTrail } from "./audit-trail.js";
import { SessionActions } from "./session-actions.js";
import { SnapshotDiff } from "./snapshot-diff.js";
import { TranscriptView } from "./transcript-view.js";
import { hrefOf, onLinkClick } from "../route.js";

type Link = "connecting" | "live" | "ended";

/**
 * SessionView is one session, live: its summary, the transcript as it
 * streams (WatchSession, from its first event), the actions, the audit
 * trail and the versions with their differences. Every turn that ends
 * reads the session, its steps and its versions again.
 */
export function SessionView({ api, id }: { api: Api; id: string }) {
  const [transcript, setTranscript] = useState<Transcript>(emptyTranscript);
  const [link, setLink] = useState<{ state: Link; error?: string }>({ state: "connecting" });
  const [changes, setChanges] = useState(0);
  const changed = () => setChanges((n) => n + 1);
  useEffect(() => watch(api, id, setTranscript, setLink, changed), [api, id]);
  const [data] = usePolled(
    async () => {
      const [session, steps, snapshots, flows] = await Promise.all([
        api.orchestrator.getSession({ sessionId: id }),
        allSteps(api, id),
        allSnapshots(api, id),
        api.orchestrator.listFlows({}),
      ]);
      const s = session.session;
      return { session: s, steps, snapshots, flow: flows.flows.find((f) => f.id === s?.flowId && f.version === s?.flowVersion) };
    },
    [api, id, changes],
  );
  return (
    <section aria-labelledby="session-title">
      <h2 id="session-title">
        Session <code>{id}</code>
      </h2>
      <p class={`link link-${link.state}`} role="status" data-testid="watch-state">
        {link.state === "live" ? "Live: following the session's events." : link.state === "connecting" ? "Connecting…" : `Not following: ${link.error ?? "the stream ended"}`}
      </p>
      {data.state === "error" && <p role="alert" class="error">{data.message}</p>}
      {data.state === "ok" && data.value.session !== undefined && (
        <>
          <dl class="summary" data-testid="session-summary">
            <dt>Status</dt>
            <dd data-testid="session-status">{statusLabel(data.value.session.status)}</dd>
            <dt>Stage</dt>
            <dd data-testid="session-stage">{data.value.session.stage}</dd>
            <dt>Version</dt>
            <dd data-testid="session-version">{String(data.value.session.version)}</dd>
            <dt>Flow</dt>
            <dd>
              <a href={hrefOf({ view: "flows", id: data.value.session.flowId })} onClick={onLinkClick}>
                {data.value.session.flowId}@{data.value.session.flowVersion}
              </a>
            </dd>
            <dt>Account</dt>
            <dd>{data.value.session.accountId || "—"}</dd>
            <dt>Tenant</dt>
            <dd>{data.value.session.tenant || "—"}</dd>
            <dt>Last agent</dt>
            <dd>{data.value.session.agent || "—"}</dd>
            <dt>Updated</dt>
            <dd>{timeLabel(data.value.session.updateTime)}</dd>
            {data.value.session.waiting !== undefined && (
              <>
                <dt>Waiting for</dt>
                <dd>{data.value.session.waiting.reason}</dd>
              </>
            )}
            {data.value.session.origin !== undefined && (
              <>
                <dt>Forked from</dt>
                <dd>
                  {data.value.session.origin.sessionId} version {String(data.value.session.origin.version)}
                </dd>
              </>
            )}
          </dl>
          <SessionActions api={api} session={data.value.session} flow={data.value.flow} snapshots={data.value.snapshots} onChange={changed} />
        </>
      )}
      <section aria-labelledby="transcript-title" class="panel">
        <h3 id="transcript-title">Transcript</h3>
        <TranscriptView transcript={transcript} steps={data.state === "ok" ? data.value.steps : []} />
      </section>
      {data.state === "ok" && (
        <>
          <section aria-labelledby="steps-title" class="panel">
            <h3 id="steps-title">Audit trail</h3>
            <AuditTrail steps={data.value.steps} />
          </section>
          <section aria-labelledby="versions-title" class="panel">
            <h3 id="versions-title">Versions</h3>
            <SnapshotDiff snapshots={data.value.snapshots} />
          </section>
        </>
      )}
    </section>
  );
}

/**
 * watch follows the session's events from its first one, applying each to
 * the transcript; a turn's end asks for a fresh read. A dropped stream is
 * resumed after the last event applied. It returns the function that stops.
 */
function watch(api: Api, id: string, set: (f: (t: Transcript) => Transcript) => void, setLink: (l: { state: Link; error?: string }) => void, changed: () => void): () => void {
  const abort = new AbortController();
  let lastSeq = 0n;
  set(() => emptyTranscript);
  const run = async (): Promise<void> => {
    try {
      for await (const res of api.orchestrator.watchSession({ sessionId: id, afterSeq: lastSeq }, { signal: abort.signal })) {
        const e = res.event;
        if (e === undefined) continue;
        if (e.kind.case === "opened") setLink({ state: "live" });
        if (e.seq > lastSeq) lastSeq = e.seq;
        set((t) => applyEvent(t, e));
        const k = e.kind.case;
        if (k === "completed" || k === "interrupted" || k === "failed") changed();
      }
      setLink({ state: "ended" });
    } catch (err) {
      if (abort.signal.aborted) return;
      const error = ConnectError.from(err);
      const code = error.code;
      // A watch that showed a turn which is not part of the history (its
      // replica died, or its run lost a race) says where to watch again
      // from: resuming after the last event shown would skip the events the
      // session's next turn numbers from there.
      const from = /watch again with after_seq (\d+)/.exec(error.rawMessage);
      if (from !== null && BigInt(from[1] as string) < lastSeq) {
        lastSeq = BigInt(from[1] as string);
        const at = lastSeq;
        set((t) => rewindTo(t, at));
      }
      setLink({ state: "ended", error: errorText(err) });
      // A session that is not there (deleted, another tenant's) stays so;
      // anything else (a replica going away) is tried again.
      if (code !== Code.NotFound && code !== Code.PermissionDenied && code !== Code.Unauthenticated && code !== Code.InvalidArgument) {
        setTimeout(() => {
          if (!abort.signal.aborted) void run();
        }, 1000);
      }
    }
  };
  void run();
  return () => abort.abort();
}

async function allSteps(api: Api, id: string) {
  const out = [];
  let pageToken = "";
  do {
    const page = await api.orchestrator.listSteps({ sessionId: id, pageSize: 1000, pageToken });
    out.push(...page.steps);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return out;
}

async function allSnapshots(api: Api, id: string) {
  const out = [];
  let pageToken = "";
  do {
    const page = await api.orchestrator.listSnapshots({ sessionId: id, pageSize: 1000, pageToken });
    out.push(...page.snapshots);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return out;
}
