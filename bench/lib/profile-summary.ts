// Sums a V8 .cpuprofile by function (self time) and by package (where the
// time goes: connect, grpc-js, protobuf, node:http2 internals, ...).
// Usage: tsx bench/lib/profile-summary.ts FILE.cpuprofile [TOP]
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

/** CpuProfileNode is one node of a V8 .cpuprofile's call tree: a function at one place in a stack. */
export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** CpuProfile is the part of a V8 .cpuprofile (Node's `--cpu-prof`) the benchmark reads. Times in µs. */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** readCpuProfile parses a .cpuprofile file. */
export function readCpuProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
}

/**
 * selfTimes sums the sampled time (µs) of each node: each sample's delta is
 * charged to the node it hit, as Chrome's DevTools and speedscope do.
 */
export function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  return self;
}

/** packageOf names where a frame's code comes from: an npm package, a `node:` module, the application, or a V8 pseudo-frame. */
export function packageOf(frame: CpuProfileNode["callFrame"]): string {
  const url = frame.url;
  return /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url.startsWith("node:") ? url : url === "" ? (frame.functionName.startsWith("(") ? frame.functionName : `(${frame.functionName || "native"})`) : "app");
}

/** functionOf names a frame as "function file:line", the file relative to node_modules where it is in one. */
export function functionOf(frame: CpuProfileNode["callFrame"]): string {
  // V8's pseudo-frames ("(garbage collector)", "(program)") have no place in a file.
  if (frame.url === "" && frame.functionName.startsWith("(")) return frame.functionName;
  return `${frame.functionName || "(anonymous)"} ${frame.url.replace(/.*node_modules\//, "")}:${frame.lineNumber + 1}`;
}

/**
 * ProfileSummary is a profile's self time (µs) by package and by function,
 * each sorted from the largest; `totalUs` counts every sample, `idleUs` the
 * samples in which the process waited (V8's "(idle)").
 */
export interface ProfileSummary {
  totalUs: number;
  idleUs: number;
  byPackage: [string, number][];
  byFunction: [string, number][];
}

/** summarizeProfile sums a profile's self time by package and by function. */
export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const self = selfTimes(profile);
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const n of profile.nodes) {
    const t = self.get(n.id) ?? 0;
    totalUs += t;
    if (n.callFrame.functionName === "(idle)") idleUs += t;
    const fn = functionOf(n.callFrame);
    const pkg = packageOf(n.callFrame);
    byFn.set(fn, (byFn.get(fn) ?? 0) + t);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalUs, idleUs, byPackage: sorted(byPkg), byFunction: sorted(byFn) };
}

// Run as a command: prints the shares of every sample, idle included.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, top = "25"] = process.argv.slice(2);
  const s = summarizeProfile(readCpuProfile(file as string));
  const pct = (t: number) => `${((100 * t) / s.totalUs).toFixed(1).padStart(5)}%`;
  console.log("by package:");
  for (const [k, v] of s.byPackage.slice(0, 15)) console.log(pct(v), k);
  console.log("by function (self):");
  for (const [k, v] of s.byFunction.slice(0, Number(top))) console.log(pct(v), k);
}
