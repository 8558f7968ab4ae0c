import { describe, expect, it } from "vitest";
import { encodeUtf8 } from "./ascii-utf8.js";

describe("encodeUtf8", () => {
  const encoder = new TextEncoder();
  const cases = ["", "a", "bench-1", "stage greeting", "é", "naïve text", "日本語", "emoji 😀", "lone \ud800 surrogate", "x".repeat(256), "y".repeat(257), `${"z".repeat(300)}é`];
  for (const text of cases) {
    it(`encodes ${JSON.stringify(text.slice(0, 20))} (${text.length} units) as TextEncoder does`, () => {
      expect(encodeUtf8(text)).toEqual(encoder.encode(text));
    });
  }
});
