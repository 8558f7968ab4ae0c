import type { Flow } from "../../../src/gen/switchboard/v1/flow_pb.js";
import { SessionStatus } from "../../../src/gen/switchboard/v1/session_pb.js";
import type { Api } from "../api.js";
import { box, layoutFlow, servedBy, stageMarks } from "../flow-layout.js";
import { usePolled } from "../hooks.js";
import { hrefOf, onLinkClick } from "../route.js";

/**
 * FlowsView lists the loaded flows and draws the chosen one: its stages
 * and transitions (CEL conditions on the edges; parallel branches, waits
 * and compensations marked), with how many live sessions are at each stage.
 */
export function FlowsView({ api, id }: { api: Api; id: string | undefined }) {
  const [flows] = usePolled(async () => (await api.orchestrator.listFlows({})).flows, [api]);
  if (flows.state === "loading") return <p>Loading…</p>;
  if (flows.state === "error") return <p role="alert" class="error">{flows.message}</p>;
  const chosen = id ?? flows.value[0]?.id;
  return (
    <section aria-labelledby="flows-title">
      <h2 id="flows-title">Flows</h2>
      <nav aria-label="Flows" class="tabs">
        <ul>
          {flows.value.map((f) => (
            <li>
              <a href={hrefOf({ view: "flows", id: f.id })} onClick={onLinkClick} aria-current={f.id === chosen ? "page" : undefined}>
                {f.id}@{f.version}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {flows.value
        .filter((f) => f.id === chosen)
        .map((f) => (
          <FlowGraph api={api} flow={f} />
        ))}
    </section>
  );
}

function FlowGraph({ api, flow }: { api: Api; flow: Flow }) {
  const [counts] = usePolled(() => liveByStage(api, flow), [api, flow.id, flow.version], 2000);
  const live = counts.state === "ok" ? counts.value : new Map<string, number>();
  const layout = layoutFlow(flow);
  const title = `${flow.id}@${flow.version}`;
  return (
    <section aria-labelledby="flow-title" class="panel">
      <h3 id="flow-title">{title}</h3>
      {flow.description !== "" && <p>{flow.description}</p>}
      <div class="scroll">
        <svg
          class="flow-graph"
          role="img"
          aria-labelledby="flow-graph-title"
          width={layout.width}
          height={layout.height}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          data-testid="flow-graph"
        >
          <title id="flow-graph-title">{`The stages of ${title} and the transitions between them; the table below lists them.`}</title>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" fill="#374151" />
            </marker>
          </defs>
          {layout.edges.map((e) => (
            <g class={`edge edge-${e.kind}`}>
              <path d={e.path} marker-end="url(#arrow)" />
              {e.label !== "" && (
                <text x={e.labelX} y={e.labelY} class="edge-label" text-anchor={e.anchor}>
                  <title>{e.label}</title>
                  {e.label.length > 34 ? `${e.label.slice(0, 33)}…` : e.label}
                </text>
              )}
            </g>
          ))}
          {layout.nodes.map((n) => {
            const marks = stageMarks(n.stage);
            const count = live.get(n.stage.name) ?? 0;
            return (
              <g class={`stage${n.stage.waitReason !== "" ? " stage-waits" : ""}${n.stage.terminal ? " stage-terminal" : ""}`} data-stage={n.stage.name} transform={`translate(${n.x},${n.y})`}>
                <rect width={box.w} height={box.h} rx="8" />
                <text x="10" y="20" class="stage-name">
                  {n.stage.name}
                </text>
                <text x="10" y="38" class="stage-agent">
                  {clip(servedBy(n.stage), 30)}
                </text>
                <text x="10" y="56" class="stage-marks">
                  {clip(marks.join(" · "), 32)}
                </text>
                {count > 0 && (
                  <g class="live-count" transform={`translate(${box.w - 46},${box.h - 20})`}>
                    <rect width="40" height="16" rx="8" />
                    <text x="20" y="12" text-anchor="middle">
                      {count} live
                    </text>
                  </g>
                )}
              </g>
            );
          })}
        </svg>
      </div>
      <table data-testid="flow-stages">
        <caption>Stages of {title}</caption>
        <thead>
          <tr>
            <th scope="col">Stage</th>
            <th scope="col">Served by</th>
            <th scope="col">Marks</th>
            <th scope="col">Transitions (first that holds)</th>
            <th scope="col">Live sessions</th>
          </tr>
        </thead>
        <tbody>
          {flow.stages.map((s) => (
            <tr data-stage={s.name}>
              <th scope="row">{s.name}</th>
              <td>{servedBy(s)}</td>
              <td>{[...stageMarks(s), ...(s.waitReason !== "" ? [`waits for: ${s.waitReason}`] : [])].join("; ") || "—"}</td>
              <td>
                <ul class="plain">
                  {s.transitions.map((t) => (
                    <li>
                      → {t.back ? "(back)" : t.to} {t.when !== "" ? <code>when {t.when}</code> : "(default)"}
                    </li>
                  ))}
                  {s.onMaxVisits !== "" && <li>→ {s.onMaxVisits} after {s.maxVisits} visits</li>}
                  {s.onFailure?.to ? <li>→ {s.onFailure.to} on failure</li> : null}
                </ul>
              </td>
              <td data-testid="live-count">{live.get(s.name) ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function clip(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/**
 * liveByStage counts the flow version's active and waiting sessions per
 * stage (up to a few thousand; the count is a glance, not an inventory).
 */
async function liveByStage(api: Api, flow: Flow): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const status of [SessionStatus.ACTIVE, SessionStatus.WAITING]) {
    let pageToken = "";
    for (let i = 0; i < 5; i++) {
      const page = await api.orchestrator.listSessions({ status, flowId: flow.id, flowVersion: flow.version, pageSize: 500, pageToken });
      for (const s of page.sessions) counts.set(s.stage, (counts.get(s.stage) ?? 0) + 1);
      pageToken = page.nextPageToken;
      if (pageToken === "") break;
    }
  }
  return counts;
}
