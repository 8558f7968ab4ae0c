import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * FlowDir is a temporary directory of flow files for an orchestrator under test.
 */
export interface FlowDir {
  readonly dir: string;
  /** write adds a file (flows, or an agents file) and returns its path. */
  write(name: string, content: string | object): string;
  remove(): void;
}

/**
 * flowDir makes a temporary directory holding the given flows (JSON objects
 * in the switchboard.v1.Flow mapping), one file each.
 */
export function flowDir(...flows: Array<{ id: string } & Record<string, unknown>>): FlowDir {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-flows-"));
  const write = (name: string, content: string | object) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
    return path;
  };
  for (const flow of flows) write(`${flow.id}.json`, flow);
  return { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
