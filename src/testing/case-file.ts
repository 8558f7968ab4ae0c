import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Pair } from "yaml";
import { EventSchema, type TurnInput, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import { type CelProgram, compileCel } from "../core/cel.js";
import { codeName } from "../core/errors.js";
import { type StubReply, readStubReply } from "./case-stub-file.js";
import { YamlReader } from "./yaml-reader.js";

/**
 * CaseProblem is one problem of a case file, located by line.
 */
export interface CaseProblem {
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole. */
  line: number;
  /** The case the problem is in; empty for file-level problems. */
  case: string;
  message: string;
}

/**
 * formatCaseProblem renders a problem as `file:line: case NAME: message`
 * (`file` instead of the case for file-level problems), the shape of flow
 * file problems.
 */
export function formatCaseProblem(p: CaseProblem): string {
  return `${p.file}:${p.line}: ${p.case ? `case ${JSON.stringify(p.case)}` : "file"}: ${p.message}`;
}

/**
 * StateCheck is a CEL expression that must hold over the session after a
 * turn (`state`, `session`, `input` as in flow conditions).
 */
export interface StateCheck {
  readonly expr: string;
  readonly program: CelProgram;
  readonly line: number;
}

/**
 * EndExpectation is what must hold of an ended session's summary; each
 * field is checked only when set.
 */
export interface EndExpectation {
  /** Text the outcome contains ("completed", "failed at stage fulfilment"). */
  outcome?: string;
  stages?: string[];
  intents?: string[];
  agents?: string[];
}

/**
 * TurnExpectation is what must hold after one turn; each field is checked
 * only when set, in the order of the fields here.
 */
export interface TurnExpectation {
  /** The error code the turn fails with ("failed_precondition"), and text its message contains. */
  error?: { code: string; contains?: string };
  /** The stage the session is in after the turn (the stage the next turn runs). */
  stage?: string;
  /** The agent that served the turn (the last one, after hand-offs). */
  agent?: string;
  reply?: string;
  replyContains?: string[];
  replyMatches?: RegExp;
  /** "active", "waiting", "completed" or "failed". */
  status?: string;
  state: StateCheck[];
  end?: EndExpectation;
}

/**
 * CaseTurn is one turn of a case: its input and what must hold after it.
 */
export interface CaseTurn {
  readonly line: number;
  readonly input: TurnInput;
  readonly expect: TurnExpectation;
  /** The line of each expectation field, for reports. */
  readonly lines: Readonly<Record<string, number>>;
}

/**
 * TestCase is one conversation to run against a flow.
 */
export interface TestCase {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  /** The flow's id, and its version ("" for the latest in the flow directory). */
  readonly flowId: string;
  readonly flowVersion: string;
  readonly account: string;
  /** Scripted replies by agent; agents not named here run live. */
  readonly stubs: ReadonlyMap<string, readonly StubReply[]>;
  readonly turns: readonly CaseTurn[];
}

/**
 * ParsedCaseFile is a case file read and checked.
 */
export interface ParsedCaseFile {
  readonly file: string;
  readonly cases: TestCase[];
  readonly problems: CaseProblem[];
}

/**
 * statusNames are the session statuses a case may expect.
 */
export const statusNames = ["active", "waiting", "completed", "failed"];

const fileKeys = ["flow", "account", "stubs", "cases"];
const caseKeys = ["name", "flow", "account", "stubs", "turns"];
const turnKeys = ["text", "intent", "event", "metadata", "expect"];
const expectKeys = ["stage", "agent", "reply", "reply_contains", "reply_matches", "state", "status", "end", "error", "error_contains"];
const endKeys = ["outcome", "stages", "intents", "agents"];
const codes = Object.values(Code).filter((c): c is Code => typeof c === "number").map(codeName);

/**
 * parseCaseFile reads a file of test cases (YAML):
 *
 *     flow: contact-centre@1        # the flow (a version, or the latest)
 *     stubs: { AGENT: [REPLY...] }  # scripted agents shared by the cases
 *     cases:
 *       - name: ...
 *         stubs: { ... }            # more, or other, scripted agents
 *         turns:
 *           - text: "1234"
 *             expect: { stage: lookup, reply_contains: verified }
 *
 * It reports every problem with its line and case, not only the first.
 */
export function parseCaseFile(text: string, file: string): ParsedCaseFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: CaseProblem[] = [];
  const y = new YamlReader(file, lines, problems);
  for (const e of doc.errors) problems.push({ file, line: lines.linePos(e.pos[0]).line, case: "", message: e.message.split("\n")[0] ?? e.message });
  if (problems.length > 0) return { file, cases: [], problems };
  const root = doc.contents as Node | null;
  const top = y.fields(root, "a case file", fileKeys);
  if (top === undefined) return { file, cases: [], problems };
  const flow = top.has("flow") ? (y.text(top.get("flow")?.value, "flow") ?? "") : "";
  const account = top.has("account") ? (y.text(top.get("account")?.value, "account") ?? "") : "";
  const shared = readStubs(y, top.get("stubs")?.value);
  const casesNode = top.get("cases")?.value ?? null;
  if (!top.has("cases") || casesNode === null || !isSeq(casesNode) || casesNode.items.length === 0) {
    y.report(casesNode ?? root, "a case file needs `cases`: a list of cases, each with a name and turns");
    return { file, cases: [], problems };
  }
  const cases: TestCase[] = [];
  const names = new Set<string>();
  for (const item of casesNode.items as Node[]) {
    y.caseName = isMap(item) ? String((item.get("name") as unknown) ?? "") : "";
    const c = readCase(y, item, file, { flow, account, shared });
    if (c === undefined) continue;
    if (names.has(c.name)) y.report(item, `another case of this file is named ${JSON.stringify(c.name)} too`);
    names.add(c.name);
    if (c.flowId === "") y.report(item, "the case names no flow: set `flow: ID` or `flow: ID@VERSION` in the file or the case");
    cases.push(c);
  }
  problems.sort((a, b) => a.line - b.line);
  return { file, cases: problems.length > 0 ? [] : cases, problems };
}

function readStubs(y: YamlReader, node: Node | null | undefined): Map<string, StubReply[]> {
  const stubs = new Map<string, StubReply[]>();
  if (node === undefined || node === null) return stubs;
  if (!isMap(node)) {
    y.report(node, "stubs must map agent names to their replies");
    return stubs;
  }
  for (const pair of node.items as Array<Pair<Node, Node | null>>) {
    const agent = isScalar(pair.key) ? String(pair.key.value) : "";
    const value = pair.value;
    const script = value !== null && isSeq(value);
    const items = script ? (value.items as Node[]) : [value];
    const replies = items.flatMap((n) => {
      const r = readStubReply(y, n, `a reply of agent ${agent}`);
      // One reply rather than a list answers every call.
      return r === undefined ? [] : [script ? r : { ...r, always: true }];
    });
    stubs.set(agent, replies);
  }
  return stubs;
}

function readCase(
  y: YamlReader,
  node: Node,
  file: string,
  defaults: { flow: string; account: string; shared: Map<string, StubReply[]> },
): TestCase | undefined {
  const f = y.fields(node, "a case", caseKeys);
  if (f === undefined) return undefined;
  const name = f.has("name") ? (y.text(f.get("name")?.value, "name") ?? "") : "";
  if (name === "") y.report(node, "a case needs a name");
  const flow = f.has("flow") ? (y.text(f.get("flow")?.value, "flow") ?? "") : defaults.flow;
  const [flowId = "", flowVersion = ""] = flow.split("@");
  // A case's own replies come first; the file's still answer what they do not.
  const stubs = readStubs(y, f.get("stubs")?.value);
  for (const [agent, replies] of defaults.shared) stubs.set(agent, [...(stubs.get(agent) ?? []), ...replies]);
  const turnsNode = f.get("turns")?.value ?? null;
  if (turnsNode === null || !isSeq(turnsNode) || turnsNode.items.length === 0) {
    y.report(turnsNode ?? node, "a case needs `turns`: a list of turns, each with its input and what to expect");
    return undefined;
  }
  const turns = (turnsNode.items as Node[]).flatMap((t) => {
    const turn = readTurn(y, t);
    return turn === undefined ? [] : [turn];
  });
  const account = f.has("account") ? (y.text(f.get("account")?.value, "account") ?? "") : defaults.account;
  return { file, line: y.line(node), name, flowId, flowVersion, account: account || "test-account", stubs, turns };
}

function readTurn(y: YamlReader, node: Node): CaseTurn | undefined {
  const f = y.fields(node, "a turn", turnKeys);
  if (f === undefined) return undefined;
  const input = create(TurnInputSchema, {});
  if (f.has("text")) input.text = y.text(f.get("text")?.value, "text") ?? "";
  if (f.has("intent")) input.intent = y.text(f.get("intent")?.value, "intent") ?? "";
  const event = f.get("event")?.value;
  if (event !== undefined && event !== null && isScalar(event)) {
    input.event = create(EventSchema, { type: y.text(event, "event") ?? "" });
  } else if (event !== undefined) {
    const e = y.fields(event, "event", ["type", "data"]);
    const type = y.text(e?.get("type")?.value, "event.type") ?? "";
    const data = e?.has("data") ? y.object(e.get("data")?.value, "event.data") : undefined;
    input.event = create(EventSchema, { type, ...(data ? { data } : {}) });
  }
  if (f.has("metadata")) input.metadata = y.strings(f.get("metadata")?.value, "metadata") ?? {};
  if (input.text === "" && input.intent === "" && input.event === undefined) y.report(node, "a turn needs text, an intent or an event");
  const lines: Record<string, number> = { turn: y.line(node) };
  const expect: TurnExpectation = { state: [] };
  const e = f.has("expect") ? y.fields(f.get("expect")?.value ?? null, "expect", expectKeys) : undefined;
  for (const [key, { key: keyNode, value }] of e ?? []) {
    lines[key] = y.line(keyNode);
    readExpectation(y, expect, key, value);
  }
  if (expect.error !== undefined && expect.error.code === "") y.report(e?.get("error_contains")?.key, "error_contains needs error: CODE beside it");
  return { line: y.line(node), input, expect, lines };
}

function readExpectation(y: YamlReader, expect: TurnExpectation, key: string, value: Node | null): void {
  switch (key) {
    case "stage":
    case "agent":
    case "reply": {
      const t = y.text(value, key);
      if (t !== undefined) expect[key] = t;
      break;
    }
    case "reply_contains": {
      const t = y.texts(value, key);
      if (t !== undefined) expect.replyContains = t;
      break;
    }
    case "reply_matches": {
      const t = y.text(value, key);
      if (t === undefined) break;
      try {
        expect.replyMatches = new RegExp(t);
      } catch (err) {
        y.report(value, `reply_matches: ${err instanceof Error ? err.message : String(err)}`);
      }
      break;
    }
    case "status": {
      const t = y.text(value, key);
      if (t !== undefined && !statusNames.includes(t)) y.report(value, `status ${JSON.stringify(t)} is not one of ${statusNames.join(", ")}`);
      else if (t !== undefined) expect.status = t;
      break;
    }
    case "state": {
      const items = value !== null && isSeq(value) ? (value.items as Node[]) : [value];
      for (const n of items) {
        const expr = y.text(n, "each state check");
        if (expr === undefined) continue;
        // Cases may read any state key, not only those the flow's conditions declare.
        const compiled = compileCel(expr, "invariant");
        if (compiled.program === undefined || compiled.problems.length > 0) y.report(n, `state check ${JSON.stringify(expr)}: ${compiled.problems.join("; ")}`);
        else expect.state.push({ expr, program: compiled.program, line: y.line(n) });
      }
      break;
    }
    case "end": {
      const f = y.fields(value, "end", endKeys);
      if (f === undefined) break;
      const end: EndExpectation = {};
      if (f.has("outcome")) end.outcome = y.text(f.get("outcome")?.value, "end.outcome") ?? "";
      for (const list of ["stages", "intents", "agents"] as const) {
        if (f.has(list)) end[list] = y.texts(f.get(list)?.value, `end.${list}`) ?? [];
      }
      expect.end = end;
      break;
    }
    case "error": {
      const code = y.text(value, key);
      if (code !== undefined && !codes.includes(code)) y.report(value, `error ${JSON.stringify(code)} is not a gRPC code name (${codes.join(", ")})`);
      else if (code !== undefined) expect.error = { ...expect.error, code };
      break;
    }
    case "error_contains": {
      const t = y.text(value, key);
      if (t !== undefined) expect.error = { code: expect.error?.code ?? "", contains: t };
      break;
    }
  }
}
