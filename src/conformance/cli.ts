import { parseArgs } from "node:util";
import type { CheckResult } from "./checks.js";
import { defaultConformanceOptions } from "./checks.js";
import { runConformance } from "./run-conformance.js";

const usage = `switchboard conformance: check an agent against the AgentService contract

Usage:
  switchboard conformance [options] URL      e.g. http://127.0.0.1:7001
  npm run conformance -- [options] URL

Checks: describe, health, turn, stream, cancel, deadline, bad-request. Prints
PASS, FAIL or SKIP per check; exits 0 when none failed, 1 when one did, 2 on
bad usage.

Options:
  --timeout-ms MS   longest wait for an ordinary answer        (${defaultConformanceOptions.timeoutMs})
  --budget-ms MS    budget of the deadline check's turn       (${defaultConformanceOptions.budgetMs})
  --grace-ms MS     time allowed to stop after a cancel or the budget (${defaultConformanceOptions.graceMs})
  --slow-text TEXT  input of the cancel and deadline turns, for agents that do
                    not serve the "switchboard.conformance": "slow" metadata
  --json            print the report as one JSON object
  --help            show this help
`;

const marks: Record<CheckResult["status"], string> = { pass: "PASS", fail: "FAIL", skip: "SKIP" };

/**
 * conformanceMain runs the conformance command with its arguments and
 * returns the process exit code.
 */
export async function conformanceMain(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "timeout-ms": { type: "string" },
        "budget-ms": { type: "string" },
        "grace-ms": { type: "string" },
        "slow-text": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    process.stderr.write(`switchboard conformance: ${e instanceof Error ? e.message : String(e)}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    out.write(usage);
    return 0;
  }
  const url = positionals[0];
  if (positionals.length !== 1 || url === undefined || !/^https?:\/\/[^/]+/.test(url)) {
    process.stderr.write(`switchboard conformance: give one agent URL, e.g. http://127.0.0.1:7001\n\n${usage}`);
    return 2;
  }
  const ms = (name: string, v: string | undefined, fallback: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: ${JSON.stringify(v)} is not a positive number of milliseconds`);
    return n;
  };
  let options;
  try {
    options = {
      timeoutMs: ms("timeout-ms", values["timeout-ms"], defaultConformanceOptions.timeoutMs),
      budgetMs: ms("budget-ms", values["budget-ms"], defaultConformanceOptions.budgetMs),
      graceMs: ms("grace-ms", values["grace-ms"], defaultConformanceOptions.graceMs),
      slowText: values["slow-text"] ?? defaultConformanceOptions.slowText,
    };
  } catch (e) {
    process.stderr.write(`switchboard conformance: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  const json = values.json === true;
  if (!json) out.write(`Checking the agent at ${url} against switchboard.v1.AgentService\n\n`);
  const report = await runConformance(url, options, (r) => {
    if (!json) out.write(`${marks[r.status]}  ${r.name.padEnd(11)} ${r.title}\n      ${r.detail}\n`);
  });
  if (json) {
    out.write(`${JSON.stringify(report)}\n`);
  } else {
    const count = (s: CheckResult["status"]) => report.results.filter((r) => r.status === s).length;
    out.write(`\n${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped\n`);
  }
  return report.ok ? 0 : 1;
}
