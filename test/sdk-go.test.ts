import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningAgentProcess } from "./support/process.js";
import { emptyProject, expectConformant, readmeAgent, sh, startAgent, writeFiles } from "./support/sdk-project.js";

const modulePath = "github.com/switchboard-mesh/switchboard/packages/go";

/**
 * The Go SDK as a team uses it: a new module outside the repository that
 * requires the SDK's module (with a replace line to this checkout, as the
 * README says for local use), builds the README's agent, and runs the
 * conformance kit against it.
 */
describe("the Go SDK module", () => {
  const project = emptyProject("go");
  let agent: RunningAgentProcess;

  beforeAll(async () => {
    writeFiles(project.dir, { "main.go": readmeAgent("packages/go/README.md", "go") });
    await sh(project.dir, "go", ["mod", "init", "example.com/greeter"]);
    await sh(project.dir, "go", ["mod", "edit", `-replace=${modulePath}=${inject("sdks").goModule}`]);
    await sh(project.dir, "go", ["mod", "tidy"], { GOFLAGS: "-mod=mod" });
    await sh(project.dir, "go", ["build", "-o", "greeter", "."]);
    agent = await startAgent(join(project.dir, "greeter"), [], "Go module agent");
  });

  afterAll(async () => {
    await agent?.stop();
    project.remove();
  });

  it("requires the SDK by its module path", async () => {
    expect(await sh(project.dir, "go", ["list", "-m", "all"])).toContain(`${modulePath} v0.0.0-00010101000000-000000000000 => ${inject("sdks").goModule}`);
  });

  it("serves the README's twenty-line agent, which passes every conformance check", async () => {
    await expectConformant(agent.url);
  });

  it("returns from agent.Run on SIGTERM, so the agent exits with status 0", async () => {
    expect(await agent.stop()).toBe(0);
  });
});
