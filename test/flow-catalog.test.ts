import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FlowCatalog, FlowLoadError } from "../src/server/flow-catalog.js";

const flow = (id: string, version: string, agent = "bot") =>
  `id: ${id}\nversion: "${version}"\nstages:\n  - name: only\n    agent: ${agent}\n    terminal: true\n`;

describe("FlowCatalog on a flow directory", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "switchboard-catalog-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("serves the highest version to new sessions and keeps every version loaded", () => {
    writeFileSync(join(dir, "a-9.yaml"), flow("a", "9"));
    writeFileSync(join(dir, "a-10.yaml"), flow("a", "10"));
    writeFileSync(join(dir, "b.json"), JSON.stringify({ id: "b", version: "1", stages: [{ name: "s", agent: "x", terminal: true }] }));
    const catalog = new FlowCatalog("a");
    expect(catalog.loadDirectory(dir).added.sort()).toEqual(["a@10", "a@9", "b@1"]);
    expect(catalog.get("a", "")?.version).toBe("10");

    // A version whose file goes away stays loaded for the sessions pinned to it.
    rmSync(join(dir, "a-10.yaml"));
    expect(catalog.reload().added).toEqual([]);
    expect(catalog.get("a", "")?.version).toBe("9");
    expect(catalog.get("a", "10")?.version).toBe("10");
  });

  it("reloads all or nothing, refusing changed versions and a missing default flow", () => {
    writeFileSync(join(dir, "a.yaml"), flow("a", "1"));
    const catalog = new FlowCatalog("a");
    catalog.loadDirectory(dir);
    writeFileSync(join(dir, "a.yaml"), flow("a", "1", "other"));
    writeFileSync(join(dir, "c.yaml"), flow("c", "1"));
    expect(() => catalog.reload()).toThrow(FlowLoadError);
    try {
      catalog.reload();
    } catch (e) {
      expect((e as FlowLoadError).problems).toEqual([`${join(dir, "a.yaml")}:2: flow: flow a@1 changed but kept its version; sessions are pinned to versions, so give the new content a new version`]);
    }
    expect(catalog.get("c", "")).toBeUndefined();
    expect(catalog.get("a", "1")?.stages[0]?.agent).toBe("bot");

    rmSync(join(dir, "a.yaml"));
    expect(() => catalog.reload()).toThrow(/no file defines the default flow "a" any more/);
    expect(catalog.get("a", "")?.version).toBe("1");
  });
});
