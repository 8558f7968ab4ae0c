// Sums a V8 .cpuprofile by function (self time) and by package (where the
// time goes: connect, grpc-js, protobuf, node:http2 internals, ...).
// Usage: tsx bench/lib/profile-summary.ts FILE.cpuprofile [TOP]
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
const [file, top = "25"] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file as string, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byFn = new Map<string, number>();
const byPkg = new Map<string, number>();
for (const n of profile.nodes) {
  const t = self.get(n.id) ?? 0;
  const url = n.callFrame.url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url.startsWith("node:") ? url : url === "" ? `(${n.callFrame.functionName || "native"})` : "app");
  const fn = `${n.callFrame.functionName || "(anonymous)"} ${url.replace(/.*node_modules\//, "")}:${n.callFrame.lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + t);
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t);
}
const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log("by package:");
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(pct(v), k);
console.log("by function (self):");
for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) console.log(pct(v), k);
