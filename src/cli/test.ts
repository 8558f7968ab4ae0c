import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { junitXml, suiteJson, suiteText } from "../testing/test-report.js";
import { liveAgents } from "../testing/live-agents.js";
import { planSuite, runSuite } from "../testing/test-suite.js";
import { staticAgent } from "./serve-settings.js";
import { type Command, UsageError } from "./command.js";

/**
 * testUsage is the help of `switchboard test`.
 */
export const testUsage = `Usage:
  switchboard test [options] [PATH...]

Runs test cases (flows/tests/*.yaml by default) against the flows they name,
on the orchestrator's engine with an in-memory store, and prints one line
per case; for a failure, the turn and the first expectation that did not
hold, as expected vs actual. Then the coverage of each flow: the stages
entered, the transitions taken, the intents routed and the checks evaluated,
naming those no case exercised. docs/testing.md describes the case files.

A PATH is a case file or a directory of them (*.yaml, *.yml).

Options:
  --flows DIR      the flow directory (default: the directory above the
                   first PATH's directory, e.g. flows/ for flows/tests)
  --flow ID@VER    run the cases of flow ID against version VER instead
  --junit FILE     also write the results as JUnit XML to FILE
  --agent NAME=URL a running agent instance (repeatable): agents a case
                   does not script are called there, as the server would
  --json           print the results and the coverage as JSON
  --help           show this help

Exit codes: 0 every case passed, 1 a case failed, 2 a usage error or a
problem in a case or flow file (each printed as FILE:LINE: ...).
`;

/**
 * testCommand is `switchboard test`.
 */
export const testCommand: Command = {
  name: ["test"],
  summary: "run test cases (flows/tests) against the flows, with coverage",
  usage: testUsage,
  async run(argv, io) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: {
          flows: { type: "string" },
          flow: { type: "string" },
          junit: { type: "string" },
          json: { type: "boolean" },
          agent: { type: "string", multiple: true },
          help: { type: "boolean", short: "h" },
        },
      });
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const { values, positionals } = parsed;
    if (values.flow !== undefined && !/^[^@]+@[^@]+$/.test(values.flow)) throw new UsageError(`--flow: ${JSON.stringify(values.flow)} is not ID@VERSION`);
    const plan = planSuite({
      paths: positionals.length > 0 ? positionals : ["flows/tests"],
      ...(values.flows !== undefined ? { flowsDir: values.flows } : {}),
      ...(values.flow !== undefined ? { flow: values.flow } : {}),
    });
    if (plan.problems.length > 0) {
      io.err.write(`${plan.problems.join("\n")}\n${plan.problems.length} problem${plan.problems.length === 1 ? "" : "s"}; no case ran\n`);
      return 2;
    }
    if (plan.cases.length === 0) {
      io.err.write(`switchboard test: no cases found in ${positionals.join(", ") || "flows/tests"}\n`);
      return 2;
    }
    const specs = values.agent ?? [];
    const live = specs.length > 0 ? await liveAgents(specs.map((a) => staticAgent(a, "--agent"))) : undefined;
    const result = await runSuite(plan, live ? { live: live.invoker } : {}).finally(() => live?.close());
    if (values.junit !== undefined) writeFileSync(values.junit, junitXml(result));
    io.out.write(values.json === true ? `${JSON.stringify(suiteJson(result), null, 2)}\n` : suiteText(result, { coverage: true }));
    return result.results.some((r) => r.mismatch !== undefined) ? 1 : 0;
  },
};
