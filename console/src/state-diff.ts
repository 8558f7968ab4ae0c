/**
 * DiffRow is one path whose value differs between two versions.
 */
export interface DiffRow {
  path: string;
  kind: "added" | "removed" | "changed";
  before: string;
  after: string;
}

/**
 * stateDiff compares two JSON values leaf by leaf and returns the paths
 * that differ, sorted. Arrays compare element by element (`history[3].text`).
 */
export function stateDiff(before: unknown, after: unknown): DiffRow[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(before, "", a);
  flatten(after, "", b);
  const rows: DiffRow[] = [];
  for (const path of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(path);
    const y = b.get(path);
    if (x === y) continue;
    rows.push({
      path,
      kind: x === undefined ? "added" : y === undefined ? "removed" : "changed",
      before: x ?? "",
      after: y ?? "",
    });
  }
  return rows.sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0));
}

function flatten(value: unknown, path: string, out: Map<string, string>): void {
  if (Array.isArray(value)) {
    if (value.length === 0) out.set(path, "[]");
    value.forEach((v, i) => flatten(v, `${path}[${i}]`, out));
    return;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) out.set(path, "{}");
    for (const [k, v] of entries) flatten(v, path === "" ? k : `${path}.${k}`, out);
    return;
  }
  out.set(path, JSON.stringify(value));
}
