import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningAgentProcess } from "./support/process.js";
import { emptyProject, expectConformant, readmeAgent, sh, startAgent, writeFiles } from "./support/sdk-project.js";

/**
 * The TypeScript SDK as a team uses it: the npm tarball installed into an
 * empty project outside the repository, the README's agent compiled there
 * with strict TypeScript against the package's declarations, and the
 * conformance kit run against it.
 */
describe("the TypeScript SDK package", () => {
  const project = emptyProject("typescript");
  let agent: RunningAgentProcess;

  beforeAll(async () => {
    writeFiles(project.dir, {
      "package.json": JSON.stringify({ name: "greeter", version: "1.0.0", private: true, type: "module" }),
      "tsconfig.json": JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          types: ["node"],
        },
      }),
      "agent.ts": readmeAgent("packages/agent/README.md", "ts"),
      "card.ts": 'import { AgentCardSchema } from "@switchboard/agent/gen/switchboard/v1/agent_pb.js";\nconsole.log(AgentCardSchema.typeName);\n',
    });
    // From the npm cache when it has them: the SDK's three dependencies, and
    // the compiler the project builds with.
    await sh(project.dir, "npm", [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      inject("sdks").typescript,
      "typescript@5.9.3",
      "@types/node@20.19.43",
    ]);
    await sh(project.dir, "npx", ["--no-install", "tsc", "-p", "."]);
    agent = await startAgent(process.execPath, [`${project.dir}/agent.js`], "TypeScript package agent");
  });

  afterAll(async () => {
    await agent?.stop();
    project.remove();
  });

  it("installs with only the dependencies an agent needs", () => {
    const lock = JSON.parse(readFileSync(join(project.dir, "package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
    // Everything installed, less the compiler the project itself asked for.
    const compiler = ["node_modules/typescript", "node_modules/@types/node", "node_modules/undici-types"];
    expect(Object.keys(lock.packages).filter((p) => p !== "" && !compiler.includes(p)).sort()).toEqual([
      "node_modules/@bufbuild/protobuf",
      "node_modules/@connectrpc/connect",
      "node_modules/@connectrpc/connect-node",
      "node_modules/@switchboard/agent",
    ]);
  });

  it("exports the generated contracts beside the SDK, with their types", async () => {
    expect(await sh(project.dir, process.execPath, ["card.js"])).toBe("switchboard.v1.AgentCard\n");
  });

  it("serves the README's twenty-line agent, which passes every conformance check", async () => {
    await expectConformant(agent.url);
  });
});
