import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { echoAgent } from "../agents/echo/agent.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import type { Turn } from "../src/sdk/index.js";
import { type InProcess, startInProcess } from "./support/in-process.js";

/**
 * A turn whose caller's deadline passes while it waits for its session
 * leaves at that moment: the agent never sees it and the store gets no
 * write for it, so abandoned work cannot pile up behind a slow turn.
 */
describe("turns waiting past their deadline", () => {
  let sb: InProcess;
  const calls: string[] = [];
  let release: (() => void) | undefined;
  let held: Promise<void>;
  let heldNow: () => void;

  beforeAll(async () => {
    held = new Promise<void>((resolve) => (heldNow = resolve));
    sb = await startInProcess({
      agent: {
        card: echoAgent.card,
        handler: (turn: Turn) => {
          calls.push(turn.text);
          if (turn.text !== "slow") return echoAgent.handler(turn);
          heldNow();
          return new Promise<string>((resolve) => (release = () => resolve("done at last")));
        },
      },
    });
  });
  afterAll(async () => sb?.close());

  it("leave at their deadline with DEADLINE_EXCEEDED, unseen by the agent and unstored", async () => {
    const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url }));
    await client.sendTurn({ sessionId: "queued", turnId: "first", input: { text: "first" } });
    const slow = client.sendTurn({ sessionId: "queued", turnId: "slow", input: { text: "slow" } });
    await held;
    // The deadline travels as the gRPC header alone: the client waits for
    // the server's answer instead of giving up on its own.
    const waiting = [1, 2, 3].map((i) =>
      client
        .sendTurn({ sessionId: "queued", turnId: `late-${i}`, input: { text: `late ${i}` } }, { headers: { "grpc-timeout": `${200 * i}m` } })
        .catch((e: unknown) => ConnectError.from(e)),
    );
    const errors = await Promise.all(waiting);
    for (const err of errors) expect(err).toMatchObject({ code: Code.DeadlineExceeded });
    // The server let each go when its deadline passed: one log line each,
    // saying it waited for the session.
    const failed = () => sb.logs.lines.filter((l) => l["msg"] === "turn failed" && String(l["turnId"]).startsWith("late-"));
    for (let i = 0; i < 200 && failed().length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(failed().map((l) => [l["turnId"], l["code"]])).toEqual([
      ["late-1", "deadline_exceeded"],
      ["late-2", "deadline_exceeded"],
      ["late-3", "deadline_exceeded"],
    ]);
    for (const line of failed()) expect(line["error"]).toContain("waited for the session's previous turn");
    release?.();
    expect((await slow).output).toBe("done at last");
    expect(calls).toEqual(["first", "slow"]);
    // The audit trail has the two turns that ran, and no record of the others.
    const { steps } = await client.listSteps({ sessionId: "queued" });
    expect(steps.map((s) => [s.turnId, s.status])).toEqual([
      ["first", StepStatus.OK],
      ["slow", StepStatus.OK],
    ]);
    expect((await client.getSession({ sessionId: "queued" })).session?.version).toBe(2n);
  });
});
