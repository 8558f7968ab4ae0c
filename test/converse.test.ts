import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService, type SessionEvent } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { StepKind, StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { Role } from "../src/gen/switchboard/v1/turn_pb.js";
import { type ConverseClient, connectClient, type EventStream, grpcJsClient } from "./support/converse-clients.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { startListener, Talker, talkFlowDir } from "./support/talker-agent.js";
import type { RunningAgent } from "../src/sdk/index.js";

let unique = 0;
const sessionId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(unique++).toString(36)}`;

const outputText = (events: SessionEvent[], turnId?: string) =>
  events
    .filter((e) => e.kind.case === "output" && (turnId === undefined || e.turnId === turnId))
    .map((e) => (e.kind.case === "output" ? e.kind.value.text : ""))
    .join("");

/**
 * Converse and WatchSession against a real orchestrator process, driven by
 * real clients over sockets: connect-node (gRPC over HTTP/2) and
 * @grpc/grpc-js. The agent runs in the test process, served by the SDK on
 * its own socket, so the test can hold a turn open and see its cancels.
 */
describe("Converse", () => {
  const talker = new Talker();
  let listener: RunningAgent;
  let orchestrator: RunningOrchestrator;
  let clients: Record<string, ConverseClient>;
  let unary: ReturnType<typeof createClient<typeof OrchestratorService>>;

  beforeAll(async () => {
    await talker.start();
    listener = await startListener();
    orchestrator = await startOrchestratorProcess([
      "--agent",
      `talker=${talker.agent.url}`,
      "--agent",
      `listener=${listener.url}`,
      "--flows",
      talkFlowDir(),
      "--default-flow",
      "talk",
    ]);
    clients = {
      "connect-node": connectClient(orchestrator.url),
      "grpc-js": grpcJsClient(`127.0.0.1:${orchestrator.port}`),
    };
    unary = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
  });

  afterAll(async () => {
    for (const c of Object.values(clients ?? {})) c.close();
    await orchestrator?.stop();
    await talker.agent?.close();
    await listener?.close();
  });

  /** open starts a Converse stream on a session and waits until it is live. */
  const open = async (client: ConverseClient, session: string, resumeAfterSeq?: bigint): Promise<EventStream> => {
    const stream = client.converse();
    stream.send({ kind: { case: "open", value: { sessionId: session, ...(resumeAfterSeq !== undefined ? { resumeAfterSeq } : {}) } } });
    await stream.waitForKind("opened");
    return stream;
  };
  const turn = (stream: EventStream, text: string, turnId: string, extra: Record<string, unknown> = {}) =>
    stream.send({ kind: { case: "turn", value: { turnId, input: { text }, ...extra } } });

  describe.each(["connect-node", "grpc-js"])("with %s", (name) => {
    const client = () => clients[name] as ConverseClient;

    it("streams output deltas before the turn completes", async () => {
      const id = sessionId("deltas");
      const stream = await open(client(), id);
      turn(stream, "gate:deltas", "t1");
      const first = await stream.waitFor((e) => e.kind.case === "output" && e.turnId === "t1");
      // The agent is parked on its gate: the turn cannot have completed.
      expect(first.kind.case === "output" && first.kind.value.text).toBe("part one. ");
      expect(stream.events.some((e) => e.kind.case === "completed")).toBe(false);
      talker.gate("deltas").open();
      const done = await stream.waitForKind("completed");
      const history = stream.history();
      expect(history.map((e) => e.kind.case)).toEqual(["accepted", "output", "output", "transition", "completed"]);
      expect(history.every((e, i) => i === 0 || e.seq > (history[i - 1] as SessionEvent).seq)).toBe(true);
      expect(first.seq).toBeLessThan(done.seq);
      expect(done.kind.case === "completed" && done.kind.value.result?.output).toBe("part one. part two.");
      expect(done.kind.case === "completed" && done.kind.value.result?.session?.version).toBe(1n);
      stream.end();
      expect(await stream.ended).toEqual({ code: 0, message: "" });
    });

    it("cancels the agent on a barge-in, and the transcript records what was heard", async () => {
      const id = sessionId("barge");
      const stream = await open(client(), id);
      turn(stream, "hello", "t1");
      await stream.waitForKind("completed");
      turn(stream, "story:barge", "t2");
      await stream.waitFor((e) => e.kind.case === "output" && outputText(stream.events, "t2").length >= 30);
      const cancelled = talker.cancelled("t2");
      stream.send({ kind: { case: "bargeIn", value: { turnId: "t2", heardChars: 9, heardMs: 700 } } });
      await cancelled; // the agent's HandleTurn stream was cancelled
      const ev = await stream.waitForKind("interrupted");
      expect(ev.kind.case === "interrupted" && ev.kind.value.heard).toBe("Once upon");
      expect(ev.kind.case === "interrupted" && ev.kind.value.heardMs).toBe(700);
      expect(ev.kind.case === "interrupted" && ev.kind.value.result?.interrupted).toBe(true);
      const { session } = await unary.getSession({ sessionId: id });
      expect(session?.version).toBe(2n);
      const last = session?.history[session.history.length - 1];
      expect(last).toMatchObject({ role: Role.AGENT, text: "Once upon", interrupted: true, heardMs: 700, turnId: "t2" });
      const { steps } = await unary.listSteps({ sessionId: id });
      expect(steps[1]).toMatchObject({ status: StepStatus.INTERRUPTED, output: "Once upon", turnId: "t2" });
      // The next agent sees what the user did and did not hear.
      turn(stream, "and now?", "t3");
      await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3");
      const next = talker.starts.find((s) => s.sessionId === id && s.turnId === "t3");
      expect(next?.history.map((h) => [h.text, h.interrupted])).toContainEqual(["Once upon", true]);
      stream.end();
      await stream.ended;
    });

    it("treats a new turn while one runs as a barge-in", async () => {
      const id = sessionId("overlap");
      const stream = await open(client(), id);
      turn(stream, "story:overlap", "t1");
      await stream.waitFor((e) => e.kind.case === "output" && e.turnId === "t1");
      const cancelled = talker.cancelled("t1");
      turn(stream, "sorry, I meant this", "t2");
      await cancelled;
      await stream.waitFor((e) => e.kind.case === "interrupted" && e.turnId === "t1");
      const done = await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t2");
      expect(done.kind.case === "completed" && done.kind.value.result?.output).toBe("You said: sorry, I meant this");
      stream.end();
      await stream.ended;
    });

    it("records a barge-in after the reply completed as an amendment of that turn", async () => {
      const id = sessionId("late");
      const stream = await open(client(), id);
      turn(stream, "tell me everything", "t1");
      await stream.waitForKind("completed");
      stream.send({ kind: { case: "bargeIn", value: { turnId: "t1", heardChars: 4 } } });
      const ev = await stream.waitForKind("interrupted");
      expect(ev.kind.case === "interrupted" && ev.kind.value).toMatchObject({ heard: "You ", afterCompletion: true });
      const { steps } = await unary.listSteps({ sessionId: id });
      expect(steps.map((s) => [s.kind, s.status, s.output])).toEqual([
        [StepKind.TURN, StepStatus.OK, "You said: tell me everything"],
        [StepKind.INTERRUPTION, StepStatus.INTERRUPTED, "You "],
      ]);
      // Only the reply being heard can be cut: an older turn is refused, and the stream stays open.
      turn(stream, "next", "t2");
      await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t2");
      stream.send({ kind: { case: "bargeIn", value: { turnId: "t1", heardChars: 1 } } });
      const refused = await stream.waitForKind("rejected");
      expect(refused.kind.case === "rejected" && refused.kind.value.code).toBe("failed_precondition");
      stream.end();
      expect((await stream.ended).code).toBe(0);
    });

    it("keeps the stream open after a failed turn, and the next turn works", async () => {
      const id = sessionId("fail");
      const stream = await open(client(), id);
      turn(stream, "hi", "t1");
      await stream.waitForKind("completed");
      turn(stream, "fail", "t2");
      const failed = await stream.waitForKind("failed");
      expect(failed.turnId).toBe("t2");
      expect(failed.kind.case === "failed" && failed.kind.value).toMatchObject({
        code: "failed_precondition",
        message: "agent talker failed the turn: asked to fail",
      });
      expect(failed.seq).toBeGreaterThan(0n);
      turn(stream, "still there?", "t3");
      const done = await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3");
      expect(done.kind.case === "completed" && done.kind.value.result?.session?.version).toBe(2n);
      stream.end();
      expect((await stream.ended).code).toBe(0);
    });

    it("passes streamed input to the agent as input deltas", async () => {
      const id = sessionId("input");
      const stream = await open(client(), id);
      stream.send({ kind: { case: "turn", value: { turnId: "t1", inputStreaming: true, input: { text: "I want " } } } });
      stream.send({ kind: { case: "input", value: { text: "to book " } } });
      stream.send({ kind: { case: "input", value: { text: "a table", final: true } } });
      const done = await stream.waitForKind("completed");
      expect(talker.inputs.get("t1")).toEqual(["to book ", "a table"]);
      expect(talker.starts.find((s) => s.turnId === "t1" && s.sessionId === id)?.inputStreaming).toBe(true);
      expect(done.kind.case === "completed" && done.kind.value.result?.output).toBe("heard: I want to book a table");
      const { steps } = await unary.listSteps({ sessionId: id });
      expect(steps[0]?.input?.text).toBe("I want to book a table");
      // Input with no turn to take it is refused, and the stream goes on.
      stream.send({ kind: { case: "input", value: { text: "late" } } });
      const refused = await stream.waitForKind("rejected");
      expect(refused.kind.case === "rejected" && refused.kind.value.code).toBe("failed_precondition");
      stream.end();
      expect((await stream.ended).code).toBe(0);
    });

    it("passes audio input only to agents whose card accepts it", async () => {
      const id = sessionId("audio");
      const stream = await open(client(), id);
      turn(stream, "hi", "t1");
      await stream.waitForKind("completed");
      stream.send({ kind: { case: "turn", value: { turnId: "t2", inputStreaming: true, input: { intent: "voice" } } } });
      stream.send({ kind: { case: "input", value: { audio: new Uint8Array([1, 2, 3]) } } });
      stream.send({ kind: { case: "input", value: { audio: new Uint8Array([4, 5]), final: true } } });
      const heard = await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t2");
      expect(heard.kind.case === "completed" && heard.kind.value.result).toMatchObject({ agent: "listener", output: "got 5 bytes of audio" });
      // The talker's card does not accept audio: its text goes through, the
      // audio does not. (The turn names its intent: the conversation's
      // intent is "voice" now, which would route it to the listener again.)
      stream.send({ kind: { case: "turn", value: { turnId: "t3", inputStreaming: true, input: { intent: "chat" } } } });
      stream.send({ kind: { case: "input", value: { text: "spoken words", audio: new Uint8Array([9, 9]), final: true } } });
      const refused = await stream.waitForKind("rejected");
      expect(refused.kind.case === "rejected" && refused.kind.value).toMatchObject({
        code: "failed_precondition",
        message: "agent talker does not accept audio (its card does not set accepts_audio); audio input is not forwarded",
      });
      const done = await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3");
      expect(done.kind.case === "completed" && done.kind.value.result?.output).toBe("heard: spoken words");
      stream.end();
      expect((await stream.ended).code).toBe(0);
    });

    it("resumes from a sequence number without missing or repeating an event", async () => {
      const id = sessionId("resume");
      const first = await open(client(), id);
      turn(first, "one", "t1");
      await first.waitForKind("completed");
      // The reference: a watcher that replays the session from its start.
      const watcher = client().watch({ sessionId: id, afterSeq: 0n });
      turn(first, "gate:resume", "t2");
      await first.waitFor((e) => e.kind.case === "output" && e.turnId === "t2");
      // The connection drops in the middle of t2; the turn goes on.
      const seen = first.history();
      const lastSeen = (seen[seen.length - 1] as SessionEvent).seq;
      first.cancel();
      await first.ended;
      const second = client().converse();
      second.send({ kind: { case: "open", value: { sessionId: id, resumeAfterSeq: lastSeen } } });
      await second.waitForKind("opened");
      talker.gate("resume").open();
      await second.waitFor((e) => e.kind.case === "completed" && e.turnId === "t2");
      turn(second, "three", "t3");
      await second.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3");
      const resumed = second.history();
      expect(resumed.every((e) => e.seq > lastSeen)).toBe(true);
      expect(new Set(resumed.map((e) => e.seq)).size).toBe(resumed.length);
      // Together, what the client saw before and after is the session's history.
      await watcher.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3");
      const key = (e: SessionEvent) => `${e.seq}:${e.kind.case}`;
      expect([...seen, ...resumed].map(key)).toEqual(watcher.history().map(key));
      expect(outputText([...seen, ...resumed], "t2")).toBe("part one. part two.");
      second.end();
      await second.ended;
      watcher.cancel();
    });

    it("lets the newest stream of a session take it over", async () => {
      const id = sessionId("takeover");
      const older = await open(client(), id);
      turn(older, "from the first stream", "t1");
      await older.waitForKind("completed");
      const newer = await open(client(), id);
      const ev = await older.waitForKind("takenOver");
      expect(ev.seq).toBe(0n);
      const end = await older.ended;
      expect(end.code).toBe(Code.Aborted);
      expect(end.message).toContain(`another Converse stream opened session ${id}`);
      turn(newer, "from the second stream", "t2");
      const done = await newer.waitForKind("completed");
      expect(done.kind.case === "completed" && done.kind.value.result?.session?.version).toBe(2n);
      newer.end();
      expect((await newer.ended).code).toBe(0);
    });

    it("shows a session's turns, unary ones too, to a watcher", async () => {
      const id = sessionId("watch");
      await unary.sendTurn({ sessionId: id, turnId: "t1", input: { text: "first" } });
      const watcher = client().watch({ sessionId: id });
      await watcher.waitForKind("opened");
      await unary.sendTurn({ sessionId: id, turnId: "t2", input: { text: "second" } });
      const done = await watcher.waitForKind("completed");
      expect(done.turnId).toBe("t2");
      expect(outputText(watcher.events)).toBe("You said: second");
      expect(watcher.history().map((e) => e.kind.case)).toEqual(["accepted", "output", "output", "completed"]);
      watcher.cancel();
    });
  });

  it("replays a session's whole history to a watcher with after_seq 0", async () => {
    const id = sessionId("replay-all");
    await unary.sendTurn({ sessionId: id, turnId: "t1", input: { text: "first" } });
    await unary.sendTurn({ sessionId: id, turnId: "t2", input: { text: "fail" } }).catch(() => undefined);
    await unary.sendTurn({ sessionId: id, turnId: "t3", input: { text: "third" } });
    const watcher = clients["connect-node"]!.watch({ sessionId: id, afterSeq: 0n });
    const opened = await watcher.waitForKind("opened");
    expect(watcher.history().map((e) => `${e.turnId}:${e.kind.case}`)).toEqual([
      "t1:accepted",
      "t1:output",
      "t1:output",
      "t1:transition",
      "t1:completed",
      "t2:accepted",
      "t2:failed",
      "t3:accepted",
      "t3:output",
      "t3:output",
      "t3:completed",
    ]);
    expect(opened.kind.case === "opened" && opened.kind.value.replayed).toBe(11n);
    watcher.cancel();
  });

  it("refuses a stream that does not start with open, and a resume beyond the last event", async () => {
    const c = clients["grpc-js"]!;
    const bad = c.converse();
    bad.send({ kind: { case: "turn", value: { input: { text: "hi" } } } });
    expect(await bad.ended).toMatchObject({ code: Code.InvalidArgument, message: "open: the first message of a Converse stream must be `open` (with the session_id)" });
    const id = sessionId("range");
    await unary.sendTurn({ sessionId: id, input: { text: "hi" } });
    const owner = await open(c, id);
    const ahead = c.converse();
    ahead.send({ kind: { case: "open", value: { sessionId: id, resumeAfterSeq: 10_000n } } });
    const end = await ahead.ended;
    expect(end.code).toBe(Code.OutOfRange);
    expect(end.message).toMatch(/^resume after seq 10000: session .* has no event after \d+; resume from the last seq you received$/);
    // A failed open takes nothing over: the owning stream goes on.
    turn(owner, "still mine", "t2");
    await owner.waitFor((e) => e.kind.case === "completed" && e.turnId === "t2");
    expect(owner.events.some((e) => e.kind.case === "takenOver")).toBe(false);
    owner.end();
    expect((await owner.ended).code).toBe(0);
  });

  it("answers a malformed turn with a rejected event and keeps the stream open", async () => {
    const stream = await open(clients["connect-node"]!, sessionId("malformed"));
    stream.send({ kind: { case: "turn", value: { turnId: "bad id!", input: { text: "hi" } } } });
    const refused = await stream.waitForKind("rejected");
    expect(refused.kind.case === "rejected" && refused.kind.value).toMatchObject({ code: "invalid_argument" });
    expect(refused.kind.case === "rejected" && refused.kind.value.message.startsWith("turn_id:")).toBe(true);
    turn(stream, "fine now", "t2");
    await stream.waitForKind("completed");
    stream.end();
    expect((await stream.ended).code).toBe(0);
  });

  it("answers a repeated turn id with the first result, outside the session's history", async () => {
    const stream = await open(clients["grpc-js"]!, sessionId("replayed"));
    turn(stream, "once", "t1");
    const first = await stream.waitForKind("completed");
    turn(stream, "once", "t1");
    const again = await stream.waitFor((e) => e.kind.case === "completed" && e.seq === 0n);
    expect(again.kind.case === "completed" && again.kind.value.result).toMatchObject({ replayed: true, output: "You said: once" });
    expect(first.seq).toBeGreaterThan(0n);
    stream.end();
    await stream.ended;
  });

  it("runs queued turns in order and ends the stream when the client is done", async () => {
    const stream = clients["connect-node"]!.converse();
    stream.send({ kind: { case: "open", value: { sessionId: sessionId("queued") } } });
    for (const [i, text] of ["one", "two", "three"].entries()) {
      stream.send({ kind: { case: "turn", value: { turnId: `t${i + 1}`, enqueue: true, input: { text } } } });
    }
    stream.end();
    expect((await stream.ended).code).toBe(0);
    const results = stream.events.flatMap((e) => (e.kind.case === "completed" ? [e.kind.value.result?.output] : []));
    expect(results).toEqual(["You said: one", "You said: two", "You said: three"]);
  });

  it("queues at most 16 turns behind the running one, refusing the next with RESOURCE_EXHAUSTED, and runs the queued ones", async () => {
    const stream = await open(clients["connect-node"]!, sessionId("queue-limit"));
    turn(stream, "gate:queue-limit", "t0");
    await stream.waitFor((e) => e.kind.case === "output" && e.turnId === "t0");
    for (let i = 1; i <= 17; i++) turn(stream, `queued ${i}`, `t${i}`, { enqueue: true });
    const refused = await stream.waitForKind("rejected");
    expect(refused.turnId).toBe("t17");
    expect(refused.kind.case === "rejected" && refused.kind.value).toEqual({
      $typeName: "switchboard.v1.RequestRejected",
      code: "resource_exhausted",
      message: "more than 16 turns are queued on this stream; wait for some to complete",
    });
    talker.gate("queue-limit").open();
    await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t16");
    const completed = stream.events.flatMap((e) => (e.kind.case === "completed" ? [e.turnId] : []));
    expect(completed).toEqual(Array.from({ length: 17 }, (_, i) => `t${i}`));
    stream.end();
    expect((await stream.ended).code).toBe(0);
  });

  it("speaks Converse over the Connect protocol on HTTP/2", async () => {
    const c = connectClient(orchestrator.url, createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "2" }), "connect-protocol");
    const stream = await open(c, sessionId("connect-h2"));
    turn(stream, "over connect", "t1");
    const done = await stream.waitForKind("completed");
    expect(done.kind.case === "completed" && done.kind.value.result?.output).toBe("You said: over connect");
    stream.end();
    expect((await stream.ended).code).toBe(0);
  });

  it.each([
    ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "1.1" })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: orchestrator.url, httpVersion: "1.1" })],
  ])("serves WatchSession to %s clients, as browsers speak", async (label, transport) => {
    const id = sessionId("browser");
    const c = connectClient(orchestrator.url, transport(), label);
    await unary.sendTurn({ sessionId: id, turnId: "t1", input: { text: "hello browser" } });
    const watcher = c.watch({ sessionId: id, afterSeq: 0n });
    await watcher.waitForKind("opened");
    await unary.sendTurn({ sessionId: id, turnId: "t2", input: { text: "and again" } });
    const done = await watcher.waitFor((e) => e.kind.case === "completed" && e.turnId === "t2");
    expect(done.kind.case === "completed" && done.kind.value.result?.output).toBe("You said: and again");
    expect(outputText(watcher.events, "t1")).toBe("You said: hello browser");
    watcher.cancel();
  });

  it("answers NOT_FOUND to a watcher of an unknown session", async () => {
    const watcher = clients["connect-node"]!.watch({ sessionId: "nobody-here" });
    expect(await watcher.ended).toEqual({ code: Code.NotFound, message: "session nobody-here not found" });
  });
});
