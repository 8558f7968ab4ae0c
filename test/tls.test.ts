import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { echoAgent } from "../agents/echo/agent.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { serveAgent, type RunningAgent } from "../src/sdk/index.js";
import { type Issued, TestCa } from "./support/certs.js";
import { type InProcess, startInProcess } from "./support/in-process.js";

const codeOf = (e: unknown) => ConnectError.from(e).code;
const run = promisify(execFile);

/**
 * TLS on the orchestrator's port (optionally requiring client
 * certificates), and mutual TLS from the orchestrator to its agents, with
 * certificates made by throw-away CAs in the test.
 */
describe("TLS", () => {
  let ca: TestCa;
  let rogue: TestCa;
  let server: Issued;
  let client: Issued;
  let rogueClient: Issued;

  beforeAll(() => {
    ca = TestCa.create("switchboard-test-ca");
    rogue = ca.another("rogue-ca");
    server = ca.issue("orchestrator", "server");
    client = ca.issue("gateway", "client");
    rogueClient = rogue.issue("intruder", "client");
  });
  afterAll(() => ca?.remove());

  describe("server", () => {
    let sb: InProcess;
    beforeAll(async () => {
      sb = await startInProcess({ operability: { tls: { cert: server.cert, key: server.key } } });
    });
    afterAll(async () => sb?.close());

    it("serves gRPC over HTTP/2 to a client that trusts its CA", async () => {
      const c = createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url, nodeOptions: { ca: ca.cert } }));
      const res = await c.sendTurn({ sessionId: "tls-1", input: { text: "hi" } });
      expect(res.output).toBe("Hello! I am the echo agent. You said: hi");
    });

    it("serves Connect over HTTP/1.1 on the same TLS port (ALPN)", async () => {
      const c = createClient(
        OrchestratorService,
        createConnectTransport({ baseUrl: sb.url, httpVersion: "1.1", nodeOptions: { ca: ca.cert } }),
      );
      expect((await c.getSession({ sessionId: "tls-1" })).session?.id).toBe("tls-1");
    });

    it("is refused by a client that does not trust the certificate", async () => {
      const c = createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url, nodeOptions: { ca: rogue.cert } }));
      const err = await c.getSession({ sessionId: "tls-1" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect(String(ConnectError.from(err).cause)).toContain("unable to verify the first certificate");
    });

    it("lets grpcurl list the services with the CA's certificate, and refuses it without", async () => {
      const addr = sb.url.replace("https://", "");
      const { stdout } = await run(inject("grpcurl"), ["-cacert", ca.certFile, addr, "list"]);
      expect(stdout).toContain("switchboard.v1.OrchestratorService");
      const err = await run(inject("grpcurl"), [addr, "list"]).catch((e: { stderr?: string }) => e);
      expect(String((err as { stderr?: string }).stderr)).toContain("certificate");
    });

    it("does not talk clear text on the TLS port", async () => {
      const c = createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url.replace("https:", "http:") }));
      const err = await c.getSession({ sessionId: "tls-1" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
    });
  });

  describe("server requiring client certificates", () => {
    let sb: InProcess;
    beforeAll(async () => {
      sb = await startInProcess({ operability: { tls: { cert: server.cert, key: server.key, clientCa: ca.cert } } });
    });
    afterAll(async () => sb?.close());

    const call = (nodeOptions: Record<string, string>) =>
      createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url, nodeOptions: { ca: ca.cert, ...nodeOptions } }))
        .sendTurn({ sessionId: "mtls-1", input: { text: "hi" } });

    it("accepts a client certificate signed by the configured CA", async () => {
      expect((await call({ cert: client.cert, key: client.key })).sessionId).toBe("mtls-1");
    });

    // What the client sees is up to its library (a TLS alert, or a reset
    // stream); what matters is that no call gets through.
    it("refuses a client without a certificate", async () => {
      const err = await call({}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect(ConnectError.from(err).rawMessage).toContain("certificate required");
      await expect(call({ cert: client.cert, key: client.key }).then((r) => r.session?.version)).resolves.toBe(2n);
    });

    it("refuses a client certificate signed by another CA", async () => {
      const err = await call({ cert: rogueClient.cert, key: rogueClient.key }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      await expect(call({ cert: client.cert, key: client.key }).then((r) => r.session?.version)).resolves.toBe(3n);
    });
  });

  describe("mutual TLS to agents", () => {
    let agent: RunningAgent;
    let agentCert: Issued;
    let orchestratorCert: Issued;
    const running: InProcess[] = [];

    beforeAll(async () => {
      agentCert = ca.issue("echo-agent", "server");
      orchestratorCert = ca.issue("orchestrator-client", "client");
      // The agent serves TLS and takes only clients whose certificate the CA signed.
      agent = await serveAgent({ ...echoAgent, tls: { cert: agentCert.cert, key: agentCert.key, clientCa: ca.cert } });
    });
    afterAll(async () => {
      for (const sb of running) await sb.close();
      await agent?.close();
    });

    const orchestratorWith = async (agentTls: { ca?: string; cert?: string; key?: string }) => {
      const sb = await startInProcess({ agentUrl: agent.url, operability: { agentTls } });
      running.push(sb);
      return createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url }));
    };

    it("serves the agent on https", () => {
      expect(agent.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    });

    it("calls the agent with the right client certificate", async () => {
      const c = await orchestratorWith({ ca: ca.cert, cert: orchestratorCert.cert, key: orchestratorCert.key });
      const res = await c.sendTurn({ sessionId: "agent-mtls", input: { text: "hi" } });
      expect(res.output).toBe("Hello! I am the echo agent. You said: hi");
    });

    it("fails the turn with UNAVAILABLE and commits nothing when the client certificate is wrong", async () => {
      const c = await orchestratorWith({ ca: ca.cert, cert: rogueClient.cert, key: rogueClient.key });
      const err = await c.sendTurn({ sessionId: "agent-mtls-bad", input: { text: "hi" } }).catch((e: unknown) => e);
      expect(codeOf(err)).toBe(Code.Unavailable);
      expect(ConnectError.from(err).rawMessage).toContain("agent echo at https://");
      await expect(c.getSession({ sessionId: "agent-mtls-bad" })).rejects.toMatchObject({ code: Code.NotFound });
    });

    it("fails when there is no client certificate", async () => {
      const c = await orchestratorWith({ ca: ca.cert });
      const err = await c.sendTurn({ sessionId: "agent-mtls-none", input: { text: "hi" } }).catch((e: unknown) => e);
      expect(codeOf(err)).toBe(Code.Unavailable);
    });

    it("fails when the agent's certificate is not from a trusted CA", async () => {
      const c = await orchestratorWith({ ca: rogue.cert, cert: orchestratorCert.cert, key: orchestratorCert.key });
      const err = await c.sendTurn({ sessionId: "agent-mtls-untrusted", input: { text: "hi" } }).catch((e: unknown) => e);
      expect(codeOf(err)).toBe(Code.Unavailable);
    });
  });
});
