import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { echoAgent } from "../agents/echo/agent.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { sha256Hex } from "../src/server/auth.js";
import type { Limits } from "../src/server/limits.js";
import type { Turn } from "../src/sdk/index.js";
import { type InProcess, startInProcess } from "./support/in-process.js";
import { frameType, RawH2 } from "./support/raw-h2.js";

const codeOf = (e: unknown) => ConnectError.from(e).code;
const messageOf = (e: unknown) => ConnectError.from(e).rawMessage;

/**
 * HoldingAgent is the echo agent, except that turns saying "hold" wait
 * until the test lets them go.
 */
function holdingAgent() {
  let waiting: Array<() => void> = [];
  let arrivals: Array<() => void> = [];
  let held = 0;
  return {
    agent: {
      card: echoAgent.card,
      handler: (turn: Turn) => {
        if (turn.text !== "hold") return echoAgent.handler(turn);
        held++;
        for (const a of arrivals.splice(0)) a();
        return new Promise<string>((resolve) => waiting.push(() => resolve("released")));
      },
    },
    /** until resolves once `n` turns are held. */
    async until(n: number) {
      while (held < n) await new Promise<void>((resolve) => arrivals.push(resolve));
    },
    releaseAll() {
      for (const w of waiting.splice(0)) w();
      held = 0;
    },
  };
}

const tokenA = "tenant-a-token-0123456789";
const tokenB = "tenant-b-token-0123456789";

const withToken = (token: string): Interceptor[] => [
  (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  },
];

async function limited(limits: Partial<Limits>, agent = holdingAgent()) {
  const sb = await startInProcess({
    agent: agent.agent,
    operability: {
      limits,
      auth: {
        tokens: [
          { name: "a", tenant: "a", sha256: sha256Hex(tokenA) },
          { name: "b", tenant: "b", sha256: sha256Hex(tokenB) },
        ],
        publicMethods: ["health"],
      },
    },
  });
  const client = (token: string) =>
    createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url, interceptors: withToken(token) }));
  return { sb, agent, client };
}

/**
 * Every limit refuses with its own status and a message that says which
 * limit it was, and the refused request changes nothing.
 */
describe("limits", () => {
  const started: InProcess[] = [];
  afterAll(async () => {
    for (const sb of started) await sb.close();
  });
  const setup = async (limits: Partial<Limits>) => {
    const l = await limited(limits);
    started.push(l.sb);
    return l;
  };

  it("refuses a message above the maximum size with RESOURCE_EXHAUSTED, over gRPC and Connect", async () => {
    const { sb, client } = await setup({ maxMessageBytes: 16 * 1024 });
    const big = { sessionId: "big", input: { text: "x".repeat(20_000) } };
    const err = await client(tokenA).sendTurn(big).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(Code.ResourceExhausted);
    expect(messageOf(err)).toContain("16384");
    const connect = createClient(
      OrchestratorService,
      createConnectTransport({ baseUrl: sb.url, httpVersion: "1.1", interceptors: withToken(tokenA) }),
    );
    expect(codeOf(await connect.sendTurn(big).catch((e: unknown) => e))).toBe(Code.ResourceExhausted);
    // Below the limit all is well, and the refused turns left nothing behind.
    await expect(client(tokenA).getSession({ sessionId: "big" })).rejects.toMatchObject({ code: Code.NotFound });
    expect((await client(tokenA).sendTurn({ sessionId: "big", input: { text: "x".repeat(1000) } })).session?.version).toBe(1n);
  });

  it("announces the maximum concurrent streams per connection and drops a connection that opens more", async () => {
    const { sb, client } = await setup({ maxStreamsPerConnection: 2 });
    const h2 = await RawH2.connect(sb.orchestrator.port);
    try {
      const settings = await h2.waitFor((f) => f.type === frameType.settings && (f.flags & 1) === 0);
      // SETTINGS_MAX_CONCURRENT_STREAMS (0x3) is announced as 2.
      const announced = [...Array(settings.payload.length / 6).keys()]
        .map((i) => [settings.payload.readUInt16BE(i * 6), settings.payload.readUInt32BE(i * 6 + 2)])
        .find(([id]) => id === 3)?.[1];
      expect(announced).toBe(2);
      await h2.waitFor((f) => f.type === frameType.settings && (f.flags & 1) === 1);
      // Three streams whose bodies never come: the first two stay open,
      // the third is one too many for this connection.
      for (const id of [1, 3, 5]) {
        h2.headers(id, [
          [":method", "POST"],
          [":scheme", "http"],
          [":path", "/switchboard.v1.OrchestratorService/GetSession"],
          [":authority", "127.0.0.1"],
          ["content-type", "application/grpc"],
          ["te", "trailers"],
          ["authorization", `Bearer ${tokenA}`],
        ]);
      }
      // Node's HTTP/2 server takes a stream beyond the announced limit as a
      // protocol violation: it closes that connection (GOAWAY), and the
      // streams it had accepted go with it. Well-behaved clients queue
      // streams above the limit themselves.
      const goaway = await h2.waitFor((f) => f.type === frameType.goaway);
      const lastStream = goaway.payload.readUInt32BE(0) & 0x7fffffff;
      expect(lastStream).toBeLessThan(5);
      // The server itself is fine.
      expect((await client(tokenA).sendTurn({ sessionId: "after-goaway", input: { text: "hi" } })).session?.version).toBe(1n);
    } finally {
      h2.close();
    }
  });

  it("refuses a token's calls above its concurrent streams with RESOURCE_EXHAUSTED, other tokens unaffected", async () => {
    const { client, agent } = await setup({ maxStreamsPerToken: 2 });
    const holding = [
      client(tokenA).sendTurn({ sessionId: "s-1", input: { text: "hold" } }),
      client(tokenA).sendTurn({ sessionId: "s-2", input: { text: "hold" } }),
    ];
    await agent.until(2);
    const err = await client(tokenA).getSession({ sessionId: "s-1" }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(Code.ResourceExhausted);
    expect(messageOf(err)).toContain("too many concurrent calls");
    expect((await client(tokenB).sendTurn({ sessionId: "s-b", input: { text: "hi" } })).sessionId).toBe("s-b");
    agent.releaseAll();
    await Promise.all(holding);
    expect((await client(tokenA).getSession({ sessionId: "s-1" })).session?.version).toBe(1n);
  });

  it("refuses a token's turns above its rate with RESOURCE_EXHAUSTED saying when to retry", async () => {
    // 2 at once, then one per 100 seconds: the third turn cannot fit.
    const { client } = await setup({ turnsPerSecond: 0.01, turnBurst: 2 });
    await client(tokenA).sendTurn({ sessionId: "r-1", input: { text: "one" } });
    await client(tokenA).sendTurn({ sessionId: "r-1", input: { text: "two" } });
    const err = await client(tokenA).sendTurn({ sessionId: "r-1", input: { text: "three" } }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(Code.ResourceExhausted);
    expect(messageOf(err)).toMatch(/too many turns: the limit is 0.01 per second per token; retry in \d+ms/);
    expect((await client(tokenA).getSession({ sessionId: "r-1" })).session?.version).toBe(2n);
    expect((await client(tokenB).sendTurn({ sessionId: "r-b", input: { text: "hi" } })).sessionId).toBe("r-b");
  });

  it("refuses a turn whose state would exceed the maximum state size, committing nothing", async () => {
    const { client } = await setup({ maxStateBytes: 200 });
    await client(tokenA).sendTurn({ sessionId: "st-1", input: { text: "short" } });
    const err = await client(tokenA).sendTurn({ sessionId: "st-1", input: { text: "y".repeat(300) } }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(Code.ResourceExhausted);
    expect(messageOf(err)).toMatch(/state would grow to \d+ bytes, above the limit of 200/);
    const { session } = await client(tokenA).getSession({ sessionId: "st-1" });
    expect(session?.version).toBe(1n);
    expect(session?.state?.["last_heard"]).toBe("short");
  });

  it("refuses turns and rollbacks beyond the maximum session length", async () => {
    const { client } = await setup({ maxSessionVersions: 2 });
    await client(tokenA).sendTurn({ sessionId: "len-1", input: { text: "one" } });
    await client(tokenA).sendTurn({ sessionId: "len-1", input: { text: "two" } });
    const err = await client(tokenA).sendTurn({ sessionId: "len-1", input: { text: "three" } }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(Code.ResourceExhausted);
    expect(messageOf(err)).toContain("has reached 2 versions, the most a session may have");
    const rb = await client(tokenA).rollbackSession({ sessionId: "len-1", version: 1n }).catch((e: unknown) => e);
    expect(codeOf(rb)).toBe(Code.ResourceExhausted);
    expect((await client(tokenA).getSession({ sessionId: "len-1" })).session?.version).toBe(2n);
    // A fork starts a new session at version 1.
    const fork = await client(tokenA).forkSession({ sessionId: "len-1", newSessionId: "len-2" });
    expect(fork.session?.version).toBe(1n);
  });
});
