#!/usr/bin/env node
// The `switchboard` command: runs the compiled JavaScript under dist/, which
// `npm run build` makes (`npm start` and `npm test` build first). Compiling
// TypeScript at every start (tsx) took seconds in which a restarted replica
// served nothing.
import { existsSync } from "node:fs";

const main = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("switchboard: not built yet (no dist/); run `npm run build` in the package's directory first\n");
  process.exit(1);
}
await import(main.href);
