import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { InputDeltaSchema } from "../gen/switchboard/v1/agent_pb.js";
import { InputChannel } from "./input-channel.js";

describe("InputChannel", () => {
  it("makes a fast sender wait for a slow reader, and ends at the final delta", async () => {
    const input = new InputChannel(2);
    let sent = 0;
    const sender = (async () => {
      for (let i = 0; i < 5; i++) {
        await input.push(create(InputDeltaSchema, { text: `${i}`, final: i === 4 }));
        sent++;
      }
    })();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toBe(1); // the second push waits for room
    const got: string[] = [];
    for await (const d of input) got.push(d.text);
    await sender;
    expect(got).toEqual(["0", "1", "2", "3", "4"]);
    expect(input.closed).toBe(true);
    expect(input.textLength).toBe(5);
  });
});
