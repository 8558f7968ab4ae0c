import type { TestProject } from "vitest/node";
import { buildGoAgent, ensurePythonAgent } from "./polyglot-tools.js";
import { ensureGrpcurl } from "./tools.js";

declare module "vitest" {
  export interface ProvidedContext {
    grpcurl: string;
    /** The Python interpreter of agents/python/.venv. */
    python: string;
    /** The built sample Go agent. */
    goAgent: string;
  }
}

/**
 * setup installs the external tools the integration tests drive, once per
 * run: grpcurl, the Python agent's virtual environment, the Go agent.
 */
export default function setup(project: TestProject): void {
  project.provide("grpcurl", ensureGrpcurl());
  project.provide("python", ensurePythonAgent());
  project.provide("goAgent", buildGoAgent());
}
