import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { A2AService } from "../src/gen/lf/a2a/v1/a2a_pb.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { type AuthSettings, defaultPublicMethods, sha256Hex } from "../src/server/auth.js";
import { type InProcess, startInProcess } from "./support/in-process.js";

const acme = "acme-token-0123456789";
const globex = "globex-token-0123456789";
const operator = "operator-token-0123456789";

interface RpcReply {
  status: number;
  headers: Headers;
  body: { jsonrpc?: string; id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string; data?: Array<Record<string, unknown>> } };
}

/**
 * What A2A clients get wrong, and what a Switchboard flow served over A2A
 * refuses, each with the protocol's error: JSON-RPC codes (-32700 to
 * -32603, A2A's -32001 to -32009, Switchboard's -32050) and gRPC status
 * codes with A2A's ErrorInfo; plus the cards, tokens, tenants and failed
 * turns.
 */
describe("A2A serving: cards, tokens, tenants and bad input", () => {
  let sb: InProcess;

  beforeAll(async () => {
    const auth: AuthSettings = {
      tokens: [
        { name: "acme-gw", tenant: "acme", sha256: sha256Hex(acme) },
        { name: "globex-gw", tenant: "globex", sha256: sha256Hex(globex) },
        { name: "ops", tenant: "*", sha256: sha256Hex(operator) },
      ],
      publicMethods: defaultPublicMethods,
    };
    sb = await startInProcess({ operability: { auth } });
  });
  afterAll(async () => sb?.close());

  const post = async (path: string, body: string, token?: string, headers: Record<string, string> = {}): Promise<RpcReply> => {
    const res = await fetch(`${sb.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "a2a-version": "1.0", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body,
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as RpcReply["body"] };
  };
  const rpc = (method: string, params: unknown, token = acme, path = "/a2a/assistant") =>
    post(path, JSON.stringify({ jsonrpc: "2.0", id: 7, method, params }), token);
  const say = (text: string, extra: Record<string, unknown> = {}) => ({ message: { messageId: crypto.randomUUID(), role: "ROLE_USER", parts: [{ text }], ...extra } });
  const grpc = (token?: string) =>
    createClient(
      A2AService,
      createGrpcTransport({
        baseUrl: sb.url,
        interceptors: token === undefined ? [] : [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))],
      }),
    );
  const ops = () =>
    createClient(
      OrchestratorService,
      createGrpcTransport({ baseUrl: sb.url, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${operator}`), next(req))] }),
    );

  it("serves the default flow's card at the well-known path without a token, with the bearer scheme and the extended card", async () => {
    const res = await fetch(`${sb.url}/.well-known/agent-card.json`);
    expect(res.status).toBe(200);
    const card = (await res.json()) as Record<string, unknown>;
    expect(card["name"]).toBe("assistant");
    expect(card["supportedInterfaces"]).toEqual([
      { url: `${sb.url}/a2a/assistant`, protocolBinding: "JSONRPC", protocolVersion: "1.0" },
      { url: sb.url.replace("http://", ""), protocolBinding: "GRPC", protocolVersion: "1.0" },
    ]);
    expect(card["capabilities"]).toMatchObject({ streaming: true, pushNotifications: false, extendedAgentCard: true });
    expect(card["securitySchemes"]).toEqual({ bearer: { httpAuthSecurityScheme: expect.objectContaining({ scheme: "Bearer" }) } });
    // The requirement names the scheme with no scopes (ProtoJSON leaves the empty list out).
    expect(card["securityRequirements"]).toEqual([{ schemes: { bearer: {} } }]);
    expect((card["skills"] as Array<{ id: string }>).map((s) => s.id)).toEqual(["assistant"]);

    const other = (await (await fetch(`${sb.url}/a2a/contact-centre/.well-known/agent-card.json`)).json()) as Record<string, unknown>;
    expect(other["name"]).toBe("contact-centre");
    expect(other["supportedInterfaces"]).toEqual([{ url: `${sb.url}/a2a/contact-centre`, protocolBinding: "JSONRPC", protocolVersion: "1.0" }]);

    const missing = await fetch(`${sb.url}/a2a/no-such-flow/.well-known/agent-card.json`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('no flow "no-such-flow" is served over A2A; served: assistant, contact-centre');
  });

  it("gives an authenticated caller the extended card: one skill per stage, and its tenant on the interfaces", async () => {
    const reply = await rpc("GetExtendedAgentCard", {});
    const card = reply.body.result as { skills: Array<{ id: string; description: string }>; supportedInterfaces: Array<{ tenant?: string }> };
    expect(card.skills.map((s) => s.id)).toEqual(["assistant", "stage:greeting", "stage:conversation"]);
    expect(card.skills[1]?.description).toBe("Welcome the caller.");
    expect(card.supportedInterfaces.map((i) => i.tenant)).toEqual(["acme", "acme"]);
  });

  it("refuses JSON-RPC without a valid token with HTTP 401 and Switchboard's error, creating nothing", async () => {
    for (const token of [undefined, "not-a-real-token-at-all"]) {
      const reply = await post("/a2a/assistant", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "SendMessage", params: say("hi", { contextId: "anon-a2a" }) }), token);
      expect(reply.status).toBe(401);
      expect(reply.headers.get("www-authenticate")).toBe("Bearer");
      expect(reply.body.error?.code).toBe(-32050);
      expect(reply.body.error?.data?.[0]).toMatchObject({ reason: "UNAUTHENTICATED", domain: "switchboard" });
    }
    await expect(ops().getSession({ sessionId: "anon-a2a" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("answers malformed JSON-RPC with the JSON-RPC error codes", async () => {
    expect((await post("/a2a/assistant", "{not json", acme)).body.error?.code).toBe(-32700);
    expect((await post("/a2a/assistant", JSON.stringify({ id: 1, method: "SendMessage", params: {} }), acme)).body.error?.code).toBe(-32600);
    expect((await rpc("message/send", say("hi"))).body.error?.code).toBe(-32601);
    expect((await rpc("SendMessage", {})).body.error?.code).toBe(-32602);
    const badMeta = await rpc("SendMessage", say("hi", { metadata: { actor: 7 } }));
    expect(badMeta.body.error).toMatchObject({ code: -32602, message: "message.metadata.actor: must be a string (it becomes the turn's input metadata)" });
    const file = await rpc("SendMessage", { message: { messageId: "f1", role: "ROLE_USER", parts: [{ url: "https://example.com/a.pdf", mediaType: "application/pdf" }] } });
    expect(file.body.error?.code).toBe(-32005);
    const badContext = await rpc("SendMessage", say("hi", { contextId: "has space" }));
    expect(badContext.body.error?.code).toBe(-32602);
    expect(badContext.body.error?.message).toMatch(/^session_id: /);
    const old = await post("/a2a/assistant", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "SendMessage", params: say("hi") }), acme, { "a2a-version": "0.3" });
    expect(old.body.error?.code).toBe(-32009);
    const unknownFlow = await rpc("SendMessage", say("hi"), acme, "/a2a/nope");
    expect(unknownFlow.status).toBe(404);
  });

  it("answers unknown and finished tasks with A2A's errors, and hides another tenant's tasks", async () => {
    expect((await rpc("GetTask", { id: "not-ours" })).body.error?.code).toBe(-32001);
    expect((await rpc("GetTask", { id: "a2a-acme-1~no-turn" })).body.error?.code).toBe(-32001);
    const sent = await rpc("SendMessage", say("hello", { contextId: "a2a-acme-1" }));
    const task = sent.body.result?.["task"] as { id: string; status: { state: string } };
    expect(task.status.state).toBe("TASK_STATE_COMPLETED");
    expect((await rpc("GetTask", { id: task.id }, globex)).body.error).toMatchObject({ code: -32001, message: `task ${task.id} not found: no such turn in context a2a-acme-1` });
    expect((await rpc("CancelTask", { id: task.id })).body.error?.code).toBe(-32002);
    expect((await rpc("SubscribeToTask", { id: task.id })).body.error?.code).toBe(-32004);
    const more = await rpc("SendMessage", say("and more", { taskId: task.id }));
    expect(more.body.error?.code).toBe(-32004);
    expect((await rpc("ListTasks", {})).body.error?.code).toBe(-32004);
    expect((await rpc("CreateTaskPushNotificationConfig", { taskId: task.id, url: "https://example.com/hook" })).body.error?.code).toBe(-32003);
  });

  it("checks the request's tenant against the token's: another tenant is refused, an operator acts for the one it names", async () => {
    const wrong = await rpc("SendMessage", { ...say("hi", { contextId: "a2a-tenant-1" }), tenant: "globex" });
    expect(wrong.body.error?.code).toBe(-32050);
    expect(wrong.body.error?.message).toBe('tenant "globex" is not the tenant of your token ("acme"); send the tenant your card names, or none');
    expect(wrong.body.error?.data?.[0]).toMatchObject({ reason: "PERMISSION_DENIED" });
    await expect(ops().getSession({ sessionId: "a2a-tenant-1" })).rejects.toMatchObject({ code: Code.NotFound });

    const same = await rpc("SendMessage", { ...say("hi", { contextId: "a2a-tenant-2" }), tenant: "acme" });
    expect((same.body.result?.["task"] as { status: { state: string } }).status.state).toBe("TASK_STATE_COMPLETED");
    const asOperator = await rpc("SendMessage", { ...say("hi", { contextId: "a2a-tenant-3" }), tenant: "globex" }, operator);
    expect((asOperator.body.result?.["task"] as { status: { state: string } }).status.state).toBe("TASK_STATE_COMPLETED");
    expect((await ops().getSession({ sessionId: "a2a-tenant-3" })).session?.tenant).toBe("globex");
    expect((await ops().getSession({ sessionId: "a2a-tenant-2" })).session?.tenant).toBe("acme");
  });

  it("reports a turn that fails as a FAILED task, recorded in the audit trail", async () => {
    await rpc("SendMessage", say("hello", { contextId: "a2a-failed-1" }));
    await rpc("SendMessage", say("bye", { contextId: "a2a-failed-1" }));
    const sent = await rpc("SendMessage", say("hello again", { contextId: "a2a-failed-1" }));
    const task = sent.body.result?.["task"] as { id: string; status: { state: string; message: { parts: Array<{ text: string }>; metadata: Record<string, string> } } };
    expect(task.status.state).toBe("TASK_STATE_FAILED");
    expect(task.status.message.metadata["switchboard.code"]).toBe("FailedPrecondition");
    const got = await rpc("GetTask", { id: task.id });
    expect((got.body.result as { status: { state: string } }).status.state).toBe("TASK_STATE_FAILED");
    const steps = (await ops().listSteps({ sessionId: "a2a-failed-1" })).steps;
    expect(steps.filter((s) => s.turnId === task.id.split("~")[1]).map((s) => StepStatus[s.status])).toEqual(["FAILED"]);
  });

  it("serves the gRPC binding behind the same tokens, with A2A's status codes and ErrorInfo", async () => {
    await expect(grpc().getTask({ id: "x~y" })).rejects.toMatchObject({ code: Code.Unauthenticated });
    const unknown = await grpc(acme).getTask({ id: "a2a-grpc-1~nope" }).then(() => new ConnectError("found"), (e: unknown) => ConnectError.from(e));
    expect(unknown.code).toBe(Code.NotFound);
    const info = unknown.details.find((d) => "type" in d && d.type === "google.rpc.ErrorInfo");
    expect(info !== undefined && "value" in info && new TextDecoder().decode(info.value as Uint8Array)).toContain("TASK_NOT_FOUND");
    const wrong = await grpc(acme).sendMessage({ tenant: "globex", message: { messageId: "g1", parts: [{ content: { case: "text", value: "hi" } }] } }).then(() => new ConnectError("sent"), (e: unknown) => ConnectError.from(e));
    expect(wrong.code).toBe(Code.PermissionDenied);
    const sent = await grpc(acme).sendMessage({ message: { messageId: "g2", contextId: "a2a-grpc-2", parts: [{ content: { case: "text", value: "hello" } }] } });
    expect(sent.payload.case).toBe("task");
    expect((await ops().getSession({ sessionId: "a2a-grpc-2" })).session?.tenant).toBe("acme");
  });
});

/**
 * A2A turns enter through the turn entry like every other turn: the
 * token's turn rate is charged for them too.
 */
describe("A2A turns and the turn rate", () => {
  let sb: InProcess;

  beforeAll(async () => {
    sb = await startInProcess({ operability: { limits: { turnsPerSecond: 0.001, turnBurst: 1 } } });
  });
  afterAll(async () => sb?.close());

  it("refuses a message beyond the rate with Switchboard's RESOURCE_EXHAUSTED, before it begins", async () => {
    const send = async (messageId: string) => {
      const res = await fetch(`${sb.url}/a2a/assistant`, {
        method: "POST",
        headers: { "content-type": "application/json", "a2a-version": "1.0" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "SendMessage", params: { message: { messageId, contextId: "a2a-rate", role: "ROLE_USER", parts: [{ text: "hi" }] } } }),
      });
      return (await res.json()) as RpcReply["body"];
    };
    expect((await send("r-1")).result?.["task"]).toMatchObject({ status: { state: "TASK_STATE_COMPLETED" } });
    const refused = await send("r-2");
    expect(refused.error?.code).toBe(-32050);
    expect(refused.error?.data?.[0]).toMatchObject({ reason: "RESOURCE_EXHAUSTED", domain: "switchboard" });
    const turns = (await createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url })).getSession({ sessionId: "a2a-rate" })).session?.version;
    expect(turns).toBe(1n);
  });
});
