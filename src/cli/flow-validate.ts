import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatProblem } from "../flows/flow-file.js";
import { listFlowFiles, readFlowFiles } from "../server/flow-catalog.js";
import type { Command } from "./command.js";

/**
 * flowValidateUsage is the help of `switchboard flow validate`.
 */
export const flowValidateUsage = `Usage:
  switchboard flow validate [--agent NAME]... FILE|DIR...

Checks flow files (YAML or JSON; a directory means its *.yaml, *.yml and
*.json files) without starting anything, and prints every problem as
FILE:LINE: stage NAME: message. Exits 0 when every file is valid, 1 when
any has a problem, 2 on a usage error. With --agent (repeatable; NAME or
NAME=URL, or SWITCHBOARD_AGENTS), agents the flows name must be among them.
`;

/**
 * FlowValidateResult is what `flow validate` prints and its exit code.
 */
export interface FlowValidateResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * flowValidate runs `switchboard flow validate` on its arguments.
 */
export function flowValidate(argv: string[], env: NodeJS.ProcessEnv): FlowValidateResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { agent: { type: "string", multiple: true }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    return { code: 2, stdout: "", stderr: `switchboard flow validate: ${e instanceof Error ? e.message : String(e)}\n\n${flowValidateUsage}` };
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { code: 0, stdout: flowValidateUsage, stderr: "" };
  if (positionals.length === 0) {
    return { code: 2, stdout: "", stderr: `switchboard flow validate: name at least one flow file or directory\n\n${flowValidateUsage}` };
  }
  const specs = values.agent ?? (env["SWITCHBOARD_AGENTS"] ?? "").split(",").filter((s) => s !== "");
  const agents = new Set(specs.map((s) => s.split("=")[0] ?? s));
  const files: string[] = [];
  const missing: string[] = [];
  for (const p of positionals) {
    try {
      files.push(...(statSync(p).isDirectory() ? listFlowFiles(p) : [p]));
    } catch {
      missing.push(`${p}:0: flow: no such file or directory`);
    }
  }
  const { flows, problems } = readFlowFiles(files, agents.size > 0 ? { knownAgents: (a) => agents.has(a) } : {});
  const lines = [...missing, ...problems.map(formatProblem)];
  if (lines.length > 0) {
    const count = `${lines.length} problem${lines.length === 1 ? "" : "s"} in ${new Set([...problems.map((p) => p.file), ...missing]).size} file(s)`;
    return { code: 1, stdout: `${lines.join("\n")}\n`, stderr: `${count}\n` };
  }
  const ok = flows.map(({ flow, file }) => `${file}: ok (flow ${flow.id}@${flow.version}, ${flow.stages.length} stages)`);
  return { code: 0, stdout: `${ok.join("\n")}\n`, stderr: "" };
}

/**
 * flowValidateCommand is `switchboard flow validate`.
 */
export const flowValidateCommand: Command = {
  name: ["flow", "validate"],
  summary: "check flow files; print every problem with its file and line",
  usage: flowValidateUsage,
  async run(argv, io) {
    const result = flowValidate(argv, io.env);
    io.out.write(result.stdout);
    io.err.write(result.stderr);
    return result.code;
  },
};
