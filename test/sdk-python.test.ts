import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningAgentProcess } from "./support/process.js";
import { emptyProject, expectConformant, readmeAgent, sh, startAgent, writeFiles } from "./support/sdk-project.js";

/**
 * The Python SDK as a team uses it: the wheel installed with pip into a new
 * virtual environment outside the repository, and the README's agent run
 * there against the conformance kit.
 */
describe("the Python SDK wheel", () => {
  const project = emptyProject("python");
  const python = join(project.dir, ".venv/bin/python");
  let agent: RunningAgentProcess;

  beforeAll(async () => {
    await sh(project.dir, process.env["PYTHON"] ?? "python3", ["-m", "venv", ".venv"]);
    await sh(project.dir, python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", inject("sdks").python]);
    writeFiles(project.dir, { "agent.py": readmeAgent("packages/python/README.md", "python") });
    agent = await startAgent(python, [join(project.dir, "agent.py")], "Python wheel agent");
  });

  afterAll(async () => {
    await agent?.stop();
    project.remove();
  });

  it("installs the SDK with its generated, typed contracts", async () => {
    const files = await sh(project.dir, python, [
      "-c",
      "import importlib.resources as r; print(sorted(p.name for p in r.files('switchboard.v1').iterdir() if p.name.endswith(('.pyi', '.typed'))))",
    ]);
    expect(files).toContain("'agent_pb2.pyi'");
    expect(files).toContain("'py.typed'");
  });

  it("serves the README's twenty-line agent, which passes every conformance check", async () => {
    await expectConformant(agent.url);
  });

  it("returns from run on SIGTERM, so the agent exits with status 0", async () => {
    expect(await agent.stop()).toBe(0);
  });
});
