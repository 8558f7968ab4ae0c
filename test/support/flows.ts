import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * FlowDir is a temporary directory of flow files for an orchestrator under test.
 */
export interface FlowDir {
  /** The flow directory, for --flows: it holds the flows only. */
  readonly dir: string;
  /** write adds a file beside the flow directory (e.g. an agents file) and returns its path. */
  write(name: string, content: string | object): string;
  remove(): void;
}

/**
 * flowDir makes a temporary directory holding the given flows (JSON objects
 * in the switchboard.v1.Flow mapping), one file each.
 */
export function flowDir(...flows: Array<{ id: string } & Record<string, unknown>>): FlowDir {
  const root = mkdtempSync(join(tmpdir(), "switchboard-flows-"));
  const dir = join(root, "flows");
  mkdirSync(dir);
  const writeIn = (where: string, name: string, content: string | object) => {
    const path = join(where, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
    return path;
  };
  for (const flow of flows) writeIn(dir, `${flow.id}.json`, flow);
  return {
    dir,
    write: (name, content) => writeIn(root, name, content),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
