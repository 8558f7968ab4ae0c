import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConverseRequest,
  ConverseRequestSchema,
  OrchestratorService,
} from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type RunningAgent, serveAgent } from "../src/sdk/index.js";
import { connectClient, grpcJsClient, Pushable } from "./support/converse-clients.js";
import { jsonLine, type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { Latch, talkFlowDir } from "./support/talker-agent.js";

const chunkBytes = 64 * 1024;
const chunks = 2048; // 128 MiB of audio in one turn
const mib = 1024 * 1024;

/** rss reads a process's resident set size from /proc. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * A client that stops reading its Converse stream while the agent streams
 * far more output than the orchestrator may buffer. The orchestrator paces
 * the agent, then fails that stream with RESOURCE_EXHAUSTED; its memory
 * stays bounded, and other streams go on as if nothing happened.
 */
describe("Converse backpressure", () => {
  let agent: RunningAgent;
  let orchestrator: RunningOrchestrator;
  const produced = new Map<string, Latch<number>>();

  beforeAll(async () => {
    agent = await serveAgent({
      card: { name: "talker" },
      async *handler(turn) {
        if (!turn.text.startsWith("firehose:")) {
          yield `You said: ${turn.text}`;
          return {};
        }
        const n = Number(turn.text.split(":")[1]);
        const audio = new Uint8Array(chunkBytes).fill(7);
        for (let i = 0; i < n; i++) yield { audio };
        produced.get(turn.start.sessionId)?.open(n);
        return { text: "done" };
      },
    });
    orchestrator = await startOrchestratorProcess([
      "--agent",
      `talker=${agent.url}`,
      "--flows",
      talkFlowDir(),
      "--default-flow",
      "talk",
      "--stream-buffer",
      "512",
      "--replay-window",
      "512",
      "--slow-reader",
      "0.5",
    ]);
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await agent?.close();
  });

  it("keeps memory bounded under a stalled reader and fails only that stream", async () => {
    const pid = orchestrator.child.pid as number;
    const unary = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));

    // Warm up: the same kind of turn, read at full speed.
    const warm = connectClient(orchestrator.url).converse();
    warm.send({ kind: { case: "open", value: { sessionId: "warm-up" } } });
    warm.send({ kind: { case: "turn", value: { turnId: "t1", input: { text: "firehose:256" } } } });
    await warm.waitForKind("completed");
    warm.end();
    await warm.ended;
    const baseline = rss(pid);

    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rss(pid));
    }, 20);
    try {
      // The stalled reader: a connect-node client that reads the first
      // piece of output, then stops pulling its response stream.
      produced.set("stalled", new Latch<number>());
      const requests = new Pushable<ConverseRequest>();
      requests.push(create(ConverseRequestSchema, { kind: { case: "open", value: { sessionId: "stalled" } } }));
      requests.push(create(ConverseRequestSchema, { kind: { case: "turn", value: { turnId: "t1", input: { text: `firehose:${chunks}` } } } }));
      const responses = unary.converse(requests)[Symbol.asyncIterator]();
      let received = 0;
      for (let r = await responses.next(); r.done !== true; r = await responses.next()) {
        received++;
        if (r.value.event?.kind.case === "output") break;
      }
      await orchestrator.waitForLine((l) => jsonLine(l)?.["msg"] === "converse reader too slow: stream failed" && jsonLine(l)?.["sessionId"] === "stalled");

      // Another stream on the same process, here a grpc-js client, is not held up.
      const bystanders = grpcJsClient(`127.0.0.1:${orchestrator.port}`);
      const other = bystanders.converse();
      other.send({ kind: { case: "open", value: { sessionId: "bystander" } } });
      other.send({ kind: { case: "turn", value: { turnId: "t1", input: { text: "still fine?" } } } });
      const done = await other.waitForKind("completed");
      expect(done.kind.case === "completed" && done.kind.value.result?.output).toBe("You said: still fine?");
      other.end();
      await other.ended;
      bystanders.close();

      // The turn itself went on without a reader and was committed.
      expect(await produced.get("stalled")?.promise).toBe(chunks);
      const next = await unary.sendTurn({ sessionId: "stalled", input: { text: "after the firehose" } });
      expect(next.session?.version).toBe(2n);
      clearInterval(sampler);
      peak = Math.max(peak, rss(pid));

      // 128 MiB went through; the orchestrator held a small, fixed part of it
      // (a few MiB; with an unbounded stream buffer it grows by ~80 MiB).
      expect(peak - baseline).toBeLessThan(32 * mib);

      // The stalled client, reading at last, gets what was in flight, then the status.
      const end = await (async () => {
        try {
          for (let r = await responses.next(); r.done !== true; r = await responses.next()) received++;
          return new ConnectError("the stream ended without an error", Code.Unknown);
        } catch (e) {
          return ConnectError.from(e);
        }
      })();
      expect(end.code).toBe(Code.ResourceExhausted);
      expect(end.rawMessage).toContain("reconnect with resume_after_seq");
      expect(received).toBeLessThan(chunks);
    } finally {
      clearInterval(sampler);
    }
  });
});
