import type { JsonValue } from "@bufbuild/protobuf";
import { invalidArgument } from "../core/errors.js";

/**
 * structLimits bound structured input (event data): how deep it nests and
 * how many values it holds.
 */
export const structLimits = { depth: 32, values: 10_000 };

/**
 * checkStructDepth refuses structured input that nests deeper or holds
 * more values than structLimits allow, naming the field.
 */
export function checkStructDepth(field: string, value: JsonValue): void {
  let values = 0;
  // Iterative, so a hostile depth cannot exhaust the stack here.
  const stack: Array<[JsonValue, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [JsonValue, number];
    if (++values > structLimits.values) {
      throw invalidArgument(field, `holds more than ${structLimits.values} values`);
    }
    if (typeof v !== "object" || v === null) continue;
    if (depth > structLimits.depth) {
      throw invalidArgument(field, `nests deeper than ${structLimits.depth} levels`);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
}
