import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { isMap, isScalar, isSeq, type LineCounter, type Node, type Pair } from "yaml";
import type { CaseProblem } from "./case-file.js";

/**
 * YamlReader reads the YAML nodes of a case file, reporting every problem
 * with its line (and the case being read) instead of stopping at the first.
 */
export class YamlReader {
  caseName = "";
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
    readonly problems: CaseProblem[],
  ) {}

  line(node: Node | null | undefined): number {
    const at = node?.range?.[0];
    return at === undefined ? 0 : this.lines.linePos(at).line;
  }

  report(node: Node | null | undefined, message: string): void {
    this.problems.push({ file: this.file, line: this.line(node) || 1, case: this.caseName, message });
  }

  /** fields reads a mapping, reporting keys not in `known`. */
  fields(node: Node | null, what: string, known: readonly string[]): Map<string, { key: Node; value: Node | null }> | undefined {
    if (node === null || !isMap(node)) {
      this.report(node, `${what} must be a mapping`);
      return undefined;
    }
    const out = new Map<string, { key: Node; value: Node | null }>();
    for (const pair of node.items as Array<Pair<Node, Node | null>>) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!known.includes(key)) {
        this.report(pair.key, `unknown field ${JSON.stringify(key)} in ${what} (use ${known.join(", ")})`);
        continue;
      }
      out.set(key, { key: pair.key, value: pair.value });
    }
    return out;
  }

  text(node: Node | null | undefined, what: string): string | undefined {
    if (node !== null && node !== undefined && isScalar(node) && ["string", "number", "boolean"].includes(typeof node.value)) return String(node.value);
    this.report(node, `${what} must be a text`);
    return undefined;
  }

  number(node: Node | null | undefined, what: string): number | undefined {
    if (node !== null && node !== undefined && isScalar(node) && typeof node.value === "number" && Number.isInteger(node.value) && node.value > 0) return node.value;
    this.report(node, `${what} must be a whole number above 0`);
    return undefined;
  }

  texts(node: Node | null | undefined, what: string): string[] | undefined {
    if (node !== null && node !== undefined && isSeq(node)) {
      const out = (node.items as Node[]).map((n) => this.text(n, `each of ${what}`));
      return out.every((t) => t !== undefined) ? (out as string[]) : undefined;
    }
    const one = node !== null && node !== undefined && isScalar(node) ? this.text(node, what) : undefined;
    if (one === undefined && !(node !== null && node !== undefined && isScalar(node))) this.report(node, `${what} must be a text or a list of texts`);
    return one === undefined ? undefined : [one];
  }

  object(node: Node | null | undefined, what: string): JsonObject | undefined {
    if (node !== null && node !== undefined && isMap(node)) return node.toJSON() as JsonObject;
    this.report(node, `${what} must be a mapping`);
    return undefined;
  }

  strings(node: Node | null | undefined, what: string): Record<string, string> | undefined {
    const o = this.object(node, what);
    if (o === undefined) return undefined;
    return Object.fromEntries(Object.entries(o).map(([k, v]: [string, JsonValue]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  }
}

