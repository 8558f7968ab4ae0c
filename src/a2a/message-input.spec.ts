import type { Message, Part } from "@a2a-js/sdk";
import { Role } from "@a2a-js/sdk";
import { describe, expect, it } from "vitest";
import { turnInputOf } from "./message-input.js";

const part = (content: Part["content"]): Part => ({ content, metadata: undefined, filename: "", mediaType: "" });
const msg = (parts: Part[], metadata?: Record<string, unknown>): Message => ({
  messageId: "m",
  contextId: "",
  taskId: "",
  role: Role.ROLE_USER,
  parts,
  metadata,
  extensions: [],
  referenceTaskIds: [],
});

describe("turnInputOf", () => {
  it("joins text parts, and reads intent, event and metadata", () => {
    const input = turnInputOf(
      msg(
        [part({ $case: "text", value: "refund 250" }), part({ $case: "text", value: "for B-9" }), part({ $case: "data", value: { intent: "refund", event: { type: "approval.granted", data: { by: "s7" } } } })],
        { actor: "supervisor-7" },
      ),
    );
    expect(input.text).toBe("refund 250\nfor B-9");
    expect(input.intent).toBe("refund");
    expect(input.event?.type).toBe("approval.granted");
    expect(input.event?.data).toEqual({ by: "s7" });
    expect(input.metadata).toEqual({ actor: "supervisor-7" });
  });

  it("refuses files as content it cannot take, and malformed parts naming them", () => {
    expect(() => turnInputOf(msg([part({ $case: "url", value: "https://x/a.pdf" })]))).toThrow(/^message\.parts\[0\]: a flow takes text and data parts only/);
    expect(() => turnInputOf(msg([part(undefined)]))).toThrow("message.parts[0]: empty; set text, data, url or raw");
    expect(() => turnInputOf(msg([part({ $case: "data", value: { other: 1 } })]))).toThrow('message.parts[0].data: unknown field(s) other; only "intent" and "event" are read');
    expect(() => turnInputOf(msg([part({ $case: "data", value: { event: { data: {} } } })]))).toThrow(/\.event: must be/);
    expect(() => turnInputOf(msg([part({ $case: "text", value: "hi" })], { n: 1 }))).toThrow("message.metadata.n: must be a string (it becomes the turn's input metadata)");
    expect(() => turnInputOf(undefined)).toThrow(/^message: missing/);
  });
});
