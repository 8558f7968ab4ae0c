import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SessionSchema } from "../gen/switchboard/v1/session_pb.js";
import { Role } from "../gen/switchboard/v1/turn_pb.js";
import { messageBytes } from "./message-bytes.js";

const session = (turns: number) =>
  create(SessionSchema, {
    id: "s1",
    stage: "conversation",
    state: { turns, name: "Ada" },
    history: Array.from({ length: turns }, (_, i) => ({ role: i % 2 === 0 ? Role.USER : Role.AGENT, text: `turn ${i} `.repeat(20) })),
  });

describe("messageBytes", () => {
  it("is never below the encoded size, and grows with the message as the encoding does", () => {
    for (const turns of [0, 1, 10, 100]) {
      const s = session(turns);
      expect(messageBytes(s)).toBeGreaterThanOrEqual(toBinary(SessionSchema, s).byteLength);
    }
    const small = messageBytes(session(10));
    const large = messageBytes(session(100));
    expect(large / small).toBeGreaterThan(5);
    expect(large / toBinary(SessionSchema, session(100)).byteLength).toBeLessThan(4);
  });

  it("gives the same estimate for the same message", () => {
    expect(messageBytes(session(7))).toBe(messageBytes(session(7)));
  });
});
