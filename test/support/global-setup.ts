import type { TestProject } from "vitest/node";
import { buildProduct } from "./build.js";
import { FerretDb } from "./ferretdb.js";
import { buildGoAgent, ensurePythonAgent } from "./polyglot-tools.js";
import { ensureChromium, ensureGrpcurl, ensureHaproxy } from "./tools.js";

declare module "vitest" {
  export interface ProvidedContext {
    grpcurl: string;
    /** The MongoDB server the tests use: MONGODB_URI, or a FerretDB started here. */
    mongoUri: string;
    /** The Python interpreter of agents/python/.venv. */
    python: string;
    /** The built sample Go agent. */
    goAgent: string;
    /** HAProxy, installed from Debian's packages when missing. */
    haproxy: string;
    /** Chromium for the console's tests, installed from Debian's packages when missing. */
    chromium: string;
  }
}

let ferret: FerretDb | undefined;

/**
 * setup builds the product, installs the external tools the integration
 * tests drive (grpcurl, the Python agent's virtual environment, the Go
 * agent) and starts the database they share, once per run. There is no
 * skipping: without a database the run fails and says how to provide one.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The tests start the built `switchboard` and sample agents (dist/), as
  // users run them. The build is here rather than in the `npm test` script
  // so that every way of running tests gets it — `npm test`, and vitest run
  // directly on a few files, as one does while working — and none of them
  // can run a dist/ older than the sources.
  buildProduct();
  project.provide("grpcurl", ensureGrpcurl());
  project.provide("python", ensurePythonAgent());
  project.provide("goAgent", buildGoAgent());
  project.provide("haproxy", ensureHaproxy());
  project.provide("chromium", ensureChromium());
  const given = process.env["MONGODB_URI"];
  if (given !== undefined && given !== "") {
    project.provide("mongoUri", given);
  } else {
    ferret = await FerretDb.launch();
    project.provide("mongoUri", ferret.uri);
  }
  return async () => {
    await ferret?.destroy();
  };
}
