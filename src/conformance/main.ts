import { conformanceMain } from "./cli.js";

// `npm run conformance -- URL`: the conformance kit on its own.
process.exitCode = await conformanceMain(process.argv.slice(2));
