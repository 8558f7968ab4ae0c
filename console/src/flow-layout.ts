import type { Flow, Stage } from "../../src/gen/switchboard/v1/flow_pb.js";

/**
 * EdgeKind says why an edge exists: a transition, the way out once a
 * stage's visits are spent, or where a failure goes.
 */
export type EdgeKind = "transition" | "max-visits" | "failure";

/**
 * LaidEdge is one edge of the flow's graph with its label and path.
 */
export interface LaidEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** The CEL condition, "back", "after N visits", "on failure"; empty for a default transition. */
  label: string;
  /** An SVG path. */
  path: string;
  labelX: number;
  labelY: number;
}

/**
 * LaidNode is one stage placed on the canvas.
 */
export interface LaidNode {
  stage: Stage;
  x: number;
  y: number;
  layer: number;
}

/**
 * FlowLayout is a flow's graph placed for drawing.
 */
export interface FlowLayout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  width: number;
  height: number;
}

/** The size of a stage's box, and the gaps between boxes. */
export const box = { w: 210, h: 78, gapX: 60, gapY: 90 };

/**
 * edgesOf lists a flow's edges: transitions in order (a `back` one goes to
 * every stage that leads here, as the previous stage can be any of them),
 * `on_max_visits` and `on_failure.to`.
 */
export function edgesOf(flow: Flow): Array<Omit<LaidEdge, "path" | "labelX" | "labelY">> {
  const out: Array<Omit<LaidEdge, "path" | "labelX" | "labelY">> = [];
  for (const s of flow.stages) {
    for (const t of s.transitions) {
      if (t.back) {
        for (const p of flow.stages) if (p.name !== s.name && p.transitions.some((x) => x.to === s.name)) out.push({ from: s.name, to: p.name, kind: "transition", label: t.when === "" ? "back" : `back if ${t.when}` });
      } else if (t.to !== "") out.push({ from: s.name, to: t.to, kind: "transition", label: t.when });
    }
    if (s.onMaxVisits !== "") out.push({ from: s.name, to: s.onMaxVisits, kind: "max-visits", label: `after ${s.maxVisits} visits` });
    if (s.onFailure?.to) out.push({ from: s.name, to: s.onFailure.to, kind: "failure", label: s.onFailure.compensate ? "on failure, compensate" : "on failure" });
  }
  return out;
}

/**
 * layoutFlow places stages in rows by their distance from the initial
 * stage (breadth first), in declaration order within a row; stages no
 * edge reaches go on a last row. Edges going down are straight-ish
 * curves; edges going up or sideways (loops, back) bend around the right.
 */
export function layoutFlow(flow: Flow): FlowLayout {
  const edges = edgesOf(flow);
  const initial = flow.initialStage || flow.stages[0]?.name || "";
  const layer = new Map<string, number>([[initial, 0]]);
  const queue = [initial];
  while (queue.length > 0) {
    const at = queue.shift() as string;
    for (const e of edges) {
      if (e.from === at && !layer.has(e.to) && flow.stages.some((s) => s.name === e.to)) {
        layer.set(e.to, (layer.get(at) ?? 0) + 1);
        queue.push(e.to);
      }
    }
  }
  const deepest = Math.max(0, ...layer.values());
  for (const s of flow.stages) if (!layer.has(s.name)) layer.set(s.name, deepest + 1);
  const rows = new Map<number, Stage[]>();
  for (const s of flow.stages) {
    const l = layer.get(s.name) ?? 0;
    rows.set(l, [...(rows.get(l) ?? []), s]);
  }
  const widest = Math.max(1, ...[...rows.values()].map((r) => r.length));
  const margin = 20;
  // Room on the right for edges that bend around.
  const width = widest * box.w + (widest - 1) * box.gapX + 2 * margin + 160;
  const nodes: LaidNode[] = [];
  for (const [l, stages] of [...rows.entries()].sort((a, b) => a[0] - b[0])) {
    const rowWidth = stages.length * box.w + (stages.length - 1) * box.gapX;
    const x0 = margin + (widest * box.w + (widest - 1) * box.gapX - rowWidth) / 2;
    stages.forEach((stage, i) => nodes.push({ stage, layer: l, x: x0 + i * (box.w + box.gapX), y: margin + l * (box.h + box.gapY) }));
  }
  const height = margin * 2 + (Math.max(0, ...nodes.map((n) => n.layer)) + 1) * (box.h + box.gapY) - box.gapY;
  const at = new Map(nodes.map((n) => [n.stage.name, n]));
  const rightEdge = width - 150;
  let bend = 0;
  const laid: LaidEdge[] = [];
  for (const e of edges) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (a === undefined || b === undefined) continue;
    if (b.layer > a.layer) {
      const x1 = a.x + box.w / 2;
      const y1 = a.y + box.h;
      const x2 = b.x + box.w / 2;
      const y2 = b.y;
      const my = (y1 + y2) / 2;
      laid.push({ ...e, path: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2 - 4}`, labelX: (x1 + x2) / 2 + 6, labelY: my + (b.layer - a.layer > 1 ? -10 : 4) });
    } else {
      // Loops and edges back up bend around the right of the boxes, each a
      // little further out so they stay apart.
      bend += 1;
      const out = Math.min(rightEdge + (bend % 6) * 18, width - 10);
      const y1 = a.y + box.h / 2 + 8;
      const y2 = b.y + box.h / 2 - 8;
      const x1 = a.x + box.w;
      const x2 = b.x + box.w + 4;
      laid.push({ ...e, path: `M${x1},${y1} C${out},${y1} ${out},${y2} ${x2},${y2}`, labelX: Math.min(out - 60, width - 150), labelY: (y1 + y2) / 2 });
    }
  }
  return { nodes, edges: laid, width, height };
}

/**
 * stageMarks names what is special about a stage: waits, parallel
 * branches, compensation, terminal, bounded visits.
 */
export function stageMarks(s: Stage): string[] {
  const marks: string[] = [];
  if (s.parallel !== undefined && s.parallel.branches.length > 0) marks.push(`parallel: ${s.parallel.branches.length} branches`);
  if (s.waitReason !== "") marks.push("waits");
  if (s.compensation !== undefined) marks.push(`compensation: ${s.compensation.intent || "undo"}`);
  if (s.onFailure?.compensate) marks.push("compensates on failure");
  if (s.terminal) marks.push("terminal");
  if (s.autoContinue) marks.push("auto-continue");
  if (s.maxVisits > 0) marks.push(`at most ${s.maxVisits} visits`);
  return marks;
}

/**
 * servedBy says which agents serve a stage.
 */
export function servedBy(s: Stage): string {
  if (s.parallel !== undefined && s.parallel.branches.length > 0) return s.parallel.branches.map((b) => b.agent).join(", ");
  const agents = new Set([s.agent, ...Object.values(s.intentAgents), s.fallbackAgent].filter((a) => a !== ""));
  return [...agents].join(", ") || "—";
}
