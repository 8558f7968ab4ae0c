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
  /** Which end of the label sits at (labelX, labelY): labels lean away from their edge. */
  anchor: "start" | "end";
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
export function edgesOf(flow: Flow): Array<Omit<LaidEdge, "path" | "labelX" | "labelY" | "anchor">> {
  const out: Array<Omit<LaidEdge, "path" | "labelX" | "labelY" | "anchor">> = [];
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
  const layer = layersOf(flow, edges, initial);
  const deepest = Math.max(0, ...layer.values());
  for (const s of flow.stages) if (!layer.has(s.name)) layer.set(s.name, deepest + 1);
  const rows = new Map<number, Stage[]>();
  for (const s of flow.stages) {
    const l = layer.get(s.name) ?? 0;
    rows.set(l, [...(rows.get(l) ?? []), s]);
  }
  const widest = Math.max(1, ...[...rows.values()].map((r) => r.length));
  const margin = 20;
  // Room on the left for the labels of edges that lean left.
  const left = 200;
  // Room on the right for edges that bend around.
  const width = left + widest * box.w + (widest - 1) * box.gapX + 2 * margin + 300;
  const nodes: LaidNode[] = [];
  for (const [l, stages] of [...rows.entries()].sort((a, b) => a[0] - b[0])) {
    const rowWidth = stages.length * box.w + (stages.length - 1) * box.gapX;
    const x0 = left + margin + (widest * box.w + (widest - 1) * box.gapX - rowWidth) / 2;
    stages.forEach((stage, i) => nodes.push({ stage, layer: l, x: x0 + i * (box.w + box.gapX), y: margin + l * (box.h + box.gapY) }));
  }
  const height = margin * 2 + (Math.max(0, ...nodes.map((n) => n.layer)) + 1) * (box.h + box.gapY) - box.gapY;
  const at = new Map(nodes.map((n) => [n.stage.name, n]));
  const rightEdge = width - 290;
  let bend = 0;
  const pairs = new Map<string, number>();
  const laid: LaidEdge[] = [];
  for (const e of edges) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (a === undefined || b === undefined) continue;
    if (a === b) {
      // A stage that may stay where it is: a small loop on its right side.
      const x = a.x + box.w;
      const y = a.y + box.h / 2;
      laid.push({ ...e, path: `M${x},${y - 10} C${x + 45},${y - 34} ${x + 45},${y + 34} ${x + 4},${y + 12}`, labelX: x + 40, labelY: y + 4, anchor: "start" });
    } else if (b.layer === a.layer) {
      const toRight = b.x > a.x;
      const x1 = toRight ? a.x + box.w : a.x;
      const x2 = toRight ? b.x - 4 : b.x + box.w + 4;
      const y = a.y + box.h / 2;
      laid.push({ ...e, path: `M${x1},${y} L${x2},${y}`, labelX: (x1 + x2) / 2, labelY: y - 6, anchor: "start" });
    } else if (b.layer === a.layer + 1) {
      // A second edge between the same two stages runs beside the first.
      const pair = `${e.from}\u0000${e.to}`;
      const k = pairs.get(pair) ?? 0;
      pairs.set(pair, k + 1);
      const x1 = a.x + box.w / 2 + k * 14;
      const y1 = a.y + box.h;
      const x2 = b.x + box.w / 2 + k * 14;
      const y2 = b.y;
      const my = (y1 + y2) / 2;
      // The label sits on the way in to the target, where edges leaving
      // one stage for several have parted.
      const dx = x2 - x1;
      laid.push({
        ...e,
        path: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2 - 4}`,
        labelX: x1 + 0.75 * dx + (dx < 0 ? -6 : 6),
        labelY: y1 + 0.7 * (y2 - y1),
        anchor: dx < 0 ? "end" : "start",
      });
    } else {
      // Loops, edges back up and edges that skip rows bend around the
      // right of the boxes (not through the stages between), each a
      // little further out so they stay apart.
      bend += 1;
      const out = rightEdge + (bend % 6) * 14;
      const y1 = a.y + box.h / 2 + 8;
      const y2 = b.y + box.h / 2 - 8;
      const x1 = a.x + box.w;
      const x2 = b.x + box.w + 4;
      // A cubic's control points at `out` take the curve three quarters of the way there.
      laid.push({ ...e, path: `M${x1},${y1} C${out},${y1} ${out},${y2} ${x2},${y2}`, labelX: x1 + 0.75 * (out - x1) + 6, labelY: (y1 + y2) / 2 + 4, anchor: "start" });
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

/**
 * layersOf gives each stage its row: the longest path to it from the
 * initial stage over the edges that do not close a loop (a depth-first
 * walk's back edges are left out), so every edge that moves the
 * conversation on points down. Stages no edge reaches go below the rest.
 */
function layersOf(flow: Flow, edges: Array<{ from: string; to: string }>, initial: string): Map<string, number> {
  const names = new Set(flow.stages.map((s) => s.name));
  const onStack = new Set<string>();
  const seen = new Set<string>();
  const forward: Array<{ from: string; to: string }> = [];
  const order: string[] = [];
  const visit = (at: string) => {
    seen.add(at);
    onStack.add(at);
    for (const e of edges) {
      if (e.from !== at || !names.has(e.to) || onStack.has(e.to)) continue;
      forward.push(e);
      if (!seen.has(e.to)) visit(e.to);
    }
    onStack.delete(at);
    order.push(at);
  };
  if (names.has(initial)) visit(initial);
  const layer = new Map<string, number>([[initial, 0]]);
  // Reverse post-order is a topological order of the forward edges.
  for (const at of order.reverse()) {
    for (const e of forward) if (e.from === at) layer.set(e.to, Math.max(layer.get(e.to) ?? 0, (layer.get(at) ?? 0) + 1));
  }
  return layer;
}
