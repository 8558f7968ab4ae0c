import type { TestProject } from "vitest/node";
import { ensureGrpcurl } from "./tools.js";

declare module "vitest" {
  export interface ProvidedContext {
    grpcurl: string;
  }
}

/**
 * setup installs the external tools the integration tests drive, once per run.
 */
export default function setup(project: TestProject): void {
  project.provide("grpcurl", ensureGrpcurl());
}
