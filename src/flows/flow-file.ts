import { type DescMessage, fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar } from "yaml";
import { type Flow, FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { type FlowPath, validateFlow } from "../core/flow.js";

/**
 * FileProblem is one problem of a flow file, located by line.
 */
export interface FileProblem {
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole. */
  line: number;
  /** The stage the problem is in; empty for flow-level problems. */
  stage: string;
  message: string;
}

/**
 * formatProblem renders a problem as `file:line: stage NAME: message`
 * (`flow` instead of the stage for flow-level problems), the shape
 * editors and CI logs link to.
 */
export function formatProblem(p: FileProblem): string {
  return `${p.file}:${p.line}: ${p.stage ? `stage ${p.stage}` : "flow"}: ${p.message}`;
}

/**
 * ParsedFlowFile is a flow file read and checked: the flow when it could be
 * built, every problem found, and a way to find the line of any field.
 */
export interface ParsedFlowFile {
  readonly file: string;
  readonly flow?: Flow;
  readonly problems: FileProblem[];
  /** lineOf returns the line of a field of the flow (see FlowPath). */
  lineOf(path: FlowPath): number;
}

/**
 * FlowFileOptions tune the checks of a flow file.
 */
export interface FlowFileOptions {
  /** When given, every agent the flow names must be known. */
  knownAgents?: (name: string) => boolean;
}

/**
 * parseFlowFile reads a flow written as YAML or JSON (JSON is read as the
 * YAML it also is) in the Protobuf JSON mapping of switchboard.v1.Flow,
 * field names in snake_case or camelCase. It reports every problem with
 * its line and stage, not only the first: syntax errors, unknown fields,
 * values of the wrong type, and everything validateFlow finds. A field
 * with a bad value is left out, so the rest of the flow is still checked.
 */
export function parseFlowFile(text: string, file: string, opts: FlowFileOptions = {}): ParsedFlowFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number | undefined) => (offset === undefined ? 0 : lineCounter.linePos(offset).line);
  const problems: FileProblem[] = [];
  const root = doc.contents as Node | null;
  const lineOf = (path: FlowPath) => lineAt(locate(root, path)?.range?.[0]);
  const stageNames = stageNamesOf(root);
  const stageAt = (path: FlowPath) => (path[0] === "stages" && typeof path[1] === "number" ? (stageNames[path[1]] ?? "") : "");
  for (const e of doc.errors) {
    problems.push({ file, line: lineAt(e.pos[0]), stage: "", message: e.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "") ?? e.message });
  }
  if (problems.length > 0) return { file, problems, lineOf };
  if (root === null || !isMap(root)) {
    problems.push({ file, line: lineAt(root?.range?.[0]) || 1, stage: "", message: "a flow file holds one mapping (object) with id, version and stages" });
    return { file, problems, lineOf };
  }
  const badPaths: string[] = [];
  const json = readMessage(FlowSchema, root, [], (node, path, message) => {
    badPaths.push(path.join("."));
    problems.push({ file, line: lineAt(node?.range?.[0]) || 1, stage: stageAt(path), message });
  });
  // A field left out for its bad value is not reported again as missing.
  const underBad = (path: FlowPath) => {
    const p = path.join(".");
    return badPaths.some((b) => p === b || p.startsWith(`${b}.`));
  };
  let flow: Flow;
  try {
    flow = fromJson(FlowSchema, json ?? {});
  } catch (e) {
    // readMessage checked each value, so this is a surprise; say so plainly.
    problems.push({ file, line: 1, stage: "", message: `not a switchboard.v1.Flow: ${e instanceof Error ? e.message : String(e)}` });
    return { file, problems, lineOf };
  }
  for (const p of validateFlow(flow, opts.knownAgents)) {
    if (underBad(p.path)) continue;
    problems.push({ file, line: lineOf(p.path) || 1, stage: p.stage || stageAt(p.path), message: p.message });
  }
  problems.sort((a, b) => a.line - b.line);
  return { file, flow, problems, lineOf };
}

type Report = (node: Node | null | undefined, path: FlowPath, message: string) => void;

/**
 * readMessage converts a YAML mapping into the JSON of a message, checking
 * each field against the message's descriptor.
 */
function readMessage(desc: DescMessage, node: Node, path: FlowPath, report: Report): JsonObject | undefined {
  if (!isMap(node)) {
    report(node, path, `expected a mapping (object) for ${desc.name}`);
    return undefined;
  }
  const out: { [key: string]: JsonValue } = {};
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : "";
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (field === undefined) {
      const hint = suggest(key, desc.fields.map((f) => f.name));
      report(keyNode, [...path, key], `unknown field ${JSON.stringify(key)} in ${desc.name}${hint ? ` (did you mean ${hint}?)` : ""}`);
      continue;
    }
    const value = pair.value as Node | null;
    const at = [...path, field.name];
    if (value === null || (isScalar(value) && value.value === null)) continue;
    const nested =
      field.fieldKind === "message" && !isWellKnown(field.message)
        ? field.message
        : field.fieldKind === "list" && field.listKind === "message" && !isWellKnown(field.message)
          ? field.message
          : field.fieldKind === "map" && field.mapKind === "message" && !isWellKnown(field.message)
            ? field.message
            : undefined;
    if (nested !== undefined && field.fieldKind === "message") {
      const v = readMessage(nested, value, at, report);
      if (v !== undefined) out[field.name] = v;
      continue;
    }
    if (nested !== undefined && field.fieldKind === "list") {
      if (!isSeq(value)) {
        report(value, at, `${field.name} must be a list of ${nested.name}`);
        continue;
      }
      out[field.name] = value.items.flatMap((item, i) => {
        const v = readMessage(nested, item as Node, [...at, i], report);
        return v === undefined ? [] : [v];
      });
      continue;
    }
    if (nested !== undefined && field.fieldKind === "map") {
      if (!isMap(value)) {
        report(value, at, `${field.name} must be a mapping of ${nested.name}`);
        continue;
      }
      const m: { [key: string]: JsonValue } = {};
      for (const p of value.items) {
        const k = String((p.key as Scalar | null)?.value ?? "");
        const v = readMessage(nested, p.value as Node, [...at, k], report);
        if (v !== undefined) m[k] = v;
      }
      out[field.name] = m;
      continue;
    }
    // A scalar, enum, well-known type, or a list or map of them: let the
    // Protobuf JSON mapping judge the value alone, so its error is this field's.
    const js = value.toJSON() as JsonValue;
    try {
      fromJson(desc, { [field.name]: js });
      out[field.name] = js;
    } catch (e) {
      const values = field.fieldKind === "enum" ? field.enum.values : field.fieldKind === "list" && field.listKind === "enum" ? field.enum.values : undefined;
      report(value, at, `${field.name}: ${values ? `unknown value ${JSON.stringify(js)} (use one of ${values.map((v) => v.name).join(", ")})` : valueProblem(e, js, field.fieldKind === "message" ? field.message.typeName : undefined)}`);
    }
  }
  return out;
}

function isWellKnown(desc: DescMessage): boolean {
  return desc.typeName.startsWith("google.protobuf.");
}

function valueProblem(e: unknown, js: JsonValue, typeName: string | undefined): string {
  const message = e instanceof Error ? e.message : String(e);
  if (typeName === "google.protobuf.Duration") return `expected a duration like "2.5s", got ${JSON.stringify(js)}`;
  if (typeof js === "number" && /string/i.test(message)) return `expected a string, got the number ${js} (quote it: "${js}")`;
  return message
    .replace(/^cannot decode (field|message) [\w.]+ from JSON: /, "")
    .replace(/^expected Array, /, "expected a list, ")
    .replace(/^expected object, /, "expected a mapping, ");
}

/**
 * locate finds the node of a field path; for a path it cannot follow to
 * the end, the deepest node it reached. Paths use proto field names; keys
 * in the file may be snake_case or camelCase.
 */
function locate(root: Node | null, path: FlowPath): Node | null {
  let node: Node | null = root;
  let anchor: Node | null = root;
  for (const seg of path) {
    if (typeof seg === "number" && node !== null && isSeq(node)) {
      const item = node.items[seg] as Node | undefined;
      if (item === undefined) return anchor;
      node = anchor = item;
    } else if (typeof seg === "string" && node !== null && isMap(node)) {
      const pair =
        node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg) ??
        node.items.find((p) => isScalar(p.key) && normalise(String(p.key.value)) === normalise(seg));
      if (pair === undefined) return anchor;
      const value = pair.value as Node | null;
      // A collection's line is its key's line (its content starts below).
      anchor = value === null || isMap(value) || isSeq(value) ? (pair.key as Node) : value;
      node = value;
    } else {
      return anchor;
    }
  }
  return anchor;
}

function normalise(key: string): string {
  return key.replace(/_/g, "").toLowerCase();
}

function stageNamesOf(root: Node | null): string[] {
  if (root === null || !isMap(root)) return [];
  const stages = root.items.find((p) => isScalar(p.key) && String(p.key.value) === "stages")?.value as Node | null | undefined;
  if (!stages || !isSeq(stages)) return [];
  return stages.items.map((s) => {
    if (!isMap(s)) return "";
    const name = s.items.find((p) => isScalar(p.key) && String(p.key.value) === "name")?.value;
    return isScalar(name) ? String(name.value ?? "") : "";
  });
}

function suggest(key: string, names: string[]): string | undefined {
  const k = normalise(key);
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    const d = distance(k, normalise(name));
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}
