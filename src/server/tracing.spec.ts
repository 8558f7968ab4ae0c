import { describe, expect, it } from "vitest";
import { formatTraceparent, parseTraceparent } from "./tracing.js";

describe("traceparent", () => {
  it("reads a W3C traceparent and writes it back", () => {
    const v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const sc = parseTraceparent(v, "vendor=abc");
    expect(sc).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1, isRemote: true });
    expect(sc?.traceState?.get("vendor")).toBe("abc");
    expect(formatTraceparent(sc!)).toBe(v);
  });

  it.each([
    ["missing", null],
    ["all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["all-zero span id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"],
    ["version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    ["short", "00-4bf92f35-00f067aa0ba902b7-01"],
    ["extra fields on version 00", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx"],
    ["garbage", "hello"],
  ])("ignores a %s traceparent", (_, v) => {
    expect(parseTraceparent(v)).toBeUndefined();
  });

  it("accepts a future version's extra fields", () => {
    expect(parseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra")?.traceFlags).toBe(0);
  });
});
