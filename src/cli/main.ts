import { exitWhenPipeCloses } from "./output.js";
import { main } from "./switchboard.js";

exitWhenPipeCloses(process.stdout, process.stderr, (code) => process.exit(code));
main(process.argv.slice(2), { out: process.stdout, err: process.stderr, env: process.env }).then(
  (code) => {
    // serve and demo keep running; the others are done.
    if (code !== 0 || !["serve", "demo"].includes(process.argv[2] ?? "")) process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`switchboard: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
