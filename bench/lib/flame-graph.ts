import { type CpuProfile, functionOf, packageOf, selfTimes } from "./profile-summary.js";
import { esc } from "./report.js";

/** Frame is one box of the flame graph: a function at one stack, with the time under it. */
interface Frame {
  name: string;
  pkg: string;
  selfUs: number;
  totalUs: number;
  children: Map<string, Frame>;
}

/**
 * stackTree folds a profile's call tree into frames keyed by function, so
 * that the same function reached along the same stack is one box (V8 can
 * keep several nodes for it). The waiting of "(idle)" is left out: the
 * graph shows where CPU went.
 */
function stackTree(profile: CpuProfile): Frame {
  const self = selfTimes(profile);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const childIds = new Set(profile.nodes.flatMap((n) => n.children ?? []));
  const root: Frame = { name: "all", pkg: "", selfUs: 0, totalUs: 0, children: new Map() };
  // Iterative walk: a deep stack must not overflow this process's own.
  const work: { id: number; parent: Frame }[] = profile.nodes.filter((n) => !childIds.has(n.id)).map((n) => ({ id: n.id, parent: root }));
  while (work.length > 0) {
    const { id, parent } = work.pop() as { id: number; parent: Frame };
    const node = byId.get(id);
    if (node === undefined || node.callFrame.functionName === "(idle)") continue;
    // V8's own "(root)" is not a function: its children hang from the graph's root.
    let frame = parent;
    if (node.callFrame.functionName !== "(root)") {
      const name = functionOf(node.callFrame);
      frame = parent.children.get(name) ?? { name, pkg: packageOf(node.callFrame), selfUs: 0, totalUs: 0, children: new Map() };
      parent.children.set(name, frame);
    }
    frame.selfUs += self.get(id) ?? 0;
    for (const c of node.children ?? []) work.push({ id: c, parent: frame });
  }
  const total = (f: Frame): number => {
    f.totalUs = f.selfUs;
    for (const c of f.children.values()) f.totalUs += total(c);
    return f.totalUs;
  };
  total(root);
  return root;
}

/**
 * colour gives each package a stable hue, so one package's boxes read as
 * one: the application green, Node's own modules blue, V8's pseudo-frames
 * grey, npm packages warm.
 */
function colour(pkg: string): string {
  let h = 0;
  for (let i = 0; i < pkg.length; i++) h = (h * 31 + pkg.charCodeAt(i)) >>> 0;
  if (pkg === "app") return "hsl(95, 55%, 55%)";
  if (pkg.startsWith("node:")) return `hsl(${200 + (h % 30)}, 55%, 70%)`;
  if (pkg.startsWith("(")) return "hsl(0, 0%, 75%)";
  return `hsl(${5 + (h % 50)}, 80%, ${55 + (h % 15)}%)`;
}

/**
 * flameGraphSvg renders a .cpuprofile as a static flame graph: the stacks
 * bottom up, each box as wide as the CPU time spent in it and below it,
 * with a tooltip (the SVG `<title>`) naming the function, its file and
 * line, its package, and its time. Boxes under `minWidthPx` are left out.
 */
export function flameGraphSvg(profile: CpuProfile, title: string, minWidthPx = 0.5): string {
  const root = stackTree(profile);
  const width = 1200;
  const rowH = 17;
  const pad = 10;
  const scale = root.totalUs > 0 ? (width - 2 * pad) / root.totalUs : 0;
  const boxes: { level: number; x: number; w: number; f: Frame }[] = [];
  let depth = 0;
  const place = (f: Frame, x: number, level: number) => {
    const w = f.totalUs * scale;
    if (w < minWidthPx) return;
    depth = Math.max(depth, level);
    boxes.push({ level, x, w, f });
    let cx = x;
    for (const c of [...f.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      place(c, cx, level + 1);
      cx += c.totalUs * scale;
    }
  };
  place(root, pad, 0);
  const height = (depth + 1) * rowH + 60;
  const ms = (us: number) => `${(us / 1000).toFixed(1)} ms`;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${pad}" y="20" font-family="sans-serif" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${pad}" y="38" font-family="sans-serif" fill="#555">CPU ${ms(root.totalUs)} sampled (idle left out); width = time in a function and below it; hover a box for its figures</text>`);
  for (const { level, x, w, f } of boxes) {
    const y = height - 10 - (level + 1) * rowH;
    const share = root.totalUs > 0 ? ((100 * f.totalUs) / root.totalUs).toFixed(1) : "0";
    const tip = `${f.name}${f.pkg === "" ? "" : ` [${f.pkg}]`}: ${ms(f.totalUs)} (${share}%), self ${ms(f.selfUs)}`;
    const fits = Math.floor((w - 4) / 6.6);
    const text = fits >= 3 ? (f.name.length <= fits ? f.name : `${f.name.slice(0, fits - 1)}…`) : "";
    out.push(
      `<g><title>${esc(tip)}</title><rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${rowH - 1}" fill="${f === root ? "hsl(0, 0%, 85%)" : colour(f.pkg)}" stroke="white" stroke-width="0.5"/>` +
        (text === "" ? "" : `<text x="${(x + 2).toFixed(2)}" y="${y + rowH - 5}">${esc(text)}</text>`) +
        "</g>",
    );
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
