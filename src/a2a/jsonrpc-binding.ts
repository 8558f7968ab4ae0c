import type * as http from "node:http";
import type * as http2 from "node:http2";
import { createContextValues, Code, ConnectError } from "@connectrpc/connect";
import { A2A_VERSION_HEADER, AgentCard } from "@a2a-js/sdk";
import { defaultServerCallContextBuilder, JsonRpcTransportHandler, type User, validateVersion } from "@a2a-js/sdk/server";
import { JsonRpcTransportError } from "@a2a-js/sdk/errors";
import type { Authenticator } from "../server/auth.js";
import { codeName } from "../core/errors.js";
import { type Identity, identityKey, peerKey } from "../server/identity.js";
import { type A2aAgents, a2aPathPrefix } from "./a2a-agents.js";
import { type A2aCall, callKey, type FlowAgent } from "./flow-agent.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/**
 * switchboardJsonRpcCode is the JSON-RPC error code of Switchboard's own
 * errors (authentication, tenant, limits, overload), which A2A leaves to
 * the server ("JSON-RPC custom error"); `data` holds a google.rpc.ErrorInfo
 * whose reason is the gRPC code, e.g. PERMISSION_DENIED.
 */
const switchboardJsonRpcCode = -32050;

const cardPath = "/.well-known/agent-card.json";
const sseHeaders = { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" };

/**
 * JsonRpcBindingOptions are what the JSON-RPC binding needs.
 */
export interface JsonRpcBindingOptions {
  agents: A2aAgents;
  authenticator: Authenticator | undefined;
  /** The largest request body taken, in bytes. */
  maxBodyBytes: number;
}

/**
 * jsonRpcBinding serves A2A over JSON-RPC and the agent cards, on the
 * orchestrator's own listener (no web framework): GET
 * /.well-known/agent-card.json (the default flow), GET
 * /a2a/FLOW/.well-known/agent-card.json, and POST /a2a/FLOW. The SDK's
 * JsonRpcTransportHandler reads the envelope, checks it, dispatches the
 * method and writes the results and A2A's error codes; this binding adds
 * the bearer token check, the Server-Sent Events of the streaming methods
 * and the error codes of Switchboard's own refusals. It returns false for
 * a path that is not A2A's, for the RPC handler to take.
 */
export function jsonRpcBinding(opts: JsonRpcBindingOptions): (req: Req, res: Res) => boolean {
  return (req, res) => {
    const url = req.url ?? "";
    // Every RPC passes here first: it is let through on a prefix test alone.
    if (!url.startsWith(a2aPathPrefix) && !url.startsWith(cardPath)) return false;
    const path = url.split("?", 2)[0] ?? "";
    if (path === cardPath) {
      void serveCard(opts, req, res, opts.agents.defaultFlowId);
      return true;
    }
    if (!path.startsWith(a2aPathPrefix)) return false;
    const rest = path.slice(a2aPathPrefix.length);
    if (rest.endsWith(cardPath)) {
      void serveCard(opts, req, res, decodeURIComponent(rest.slice(0, -cardPath.length)));
      return true;
    }
    void serveJsonRpc(opts, req, res, decodeURIComponent(rest)).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
    return true;
  };
}

function authorityOf(req: Req): string {
  return String(req.headers[":authority"] ?? req.headers.host ?? "localhost");
}

async function serveCard(opts: JsonRpcBindingOptions, req: Req, res: Res, flowId: string): Promise<void> {
  const flow = opts.agents.flow(flowId);
  if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: "use GET for an agent card" }, { allow: "GET" });
  if (flow === undefined) return sendJson(res, 404, { error: `no flow "${flowId}" is served over A2A; served: ${opts.agents.served().join(", ")}` });
  const card = await opts.agents.agent(flow, authorityOf(req)).getAgentCard();
  sendJson(res, 200, AgentCard.toJSON(card), { "cache-control": "max-age=60" });
}

async function serveJsonRpc(opts: JsonRpcBindingOptions, req: Req, res: Res, flowId: string): Promise<void> {
  const flow = opts.agents.flow(flowId);
  if (flow === undefined) return sendJson(res, 404, { error: `no flow "${flowId}" is served over A2A; served: ${opts.agents.served().join(", ")}` });
  if (req.method !== "POST") return sendJson(res, 405, { error: "A2A JSON-RPC takes POST" }, { allow: "POST" });
  const body = await readBody(req, opts.maxBodyBytes);
  if (body === undefined) return sendRpcError(res, 413, null, -32600, `the request is larger than ${opts.maxBodyBytes} bytes`);
  let identity: Identity | undefined;
  if (opts.authenticator !== undefined) {
    try {
      identity = await opts.authenticator.authenticate(headerOf(req, "authorization") ?? null);
    } catch (e) {
      return sendSwitchboardError(res, idOf(body), ConnectError.from(e), { "www-authenticate": "Bearer" });
    }
  }
  const controller = new AbortController();
  res.once("close", () => controller.abort(new ConnectError("the client went away", Code.Canceled)));
  const values = createContextValues();
  values.set(peerKey, req.socket?.remoteAddress ?? "");
  if (identity !== undefined) values.set(identityKey, identity);
  const requestHeader = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (!k.startsWith(":") && v !== undefined) requestHeader.set(k, Array.isArray(v) ? v.join(", ") : v);
  }
  const call: A2aCall = { ctx: { values, requestHeader }, signal: controller.signal, deadline: undefined };
  const agent = opts.agents.agent(flow, authorityOf(req));
  const context = defaultServerCallContextBuilder({
    extensions: undefined,
    user: userOf(identity),
    headers: req.headers as Record<string, string | string[] | undefined>,
    ...(headerOf(req, A2A_VERSION_HEADER) !== undefined ? { requestedVersion: headerOf(req, A2A_VERSION_HEADER) as string } : {}),
  });
  context.state.set(callKey, call);
  try {
    validateVersion(context.requestedVersion, await agent.getAgentCard(), "JSONRPC");
  } catch (e) {
    return sendJson(res, 200, { jsonrpc: "2.0", id: idOf(body), error: JsonRpcTransportHandler.mapToJSONRPCError(e) });
  }
  let request: Record<string, unknown>;
  try {
    request = JSON.parse(body) as Record<string, unknown>;
  } catch (e) {
    // JSON-RPC's own code for a body that is not JSON (the SDK reports it as invalid params).
    return sendRpcError(res, 200, null, -32700, `Parse error: the request is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const id = request?.["id"];
  if (
    typeof request !== "object" || request === null || Array.isArray(request) ||
    request["jsonrpc"] !== "2.0" || typeof request["method"] !== "string" ||
    !(id === undefined || id === null || typeof id === "string" || (typeof id === "number" && Number.isInteger(id)))
  ) {
    // JSON-RPC's code for a body that is JSON but no request object (the SDK reports it as invalid params).
    return sendRpcError(res, 200, null, -32600, 'Invalid Request: send {"jsonrpc": "2.0", "id": ..., "method": "SendMessage", "params": {...}}; batches are not taken');
  }
  const refusal: { error?: ConnectError } = {};
  const rpcErrorOf = (e: unknown) => (refusal.error !== undefined ? switchboardError(refusal.error) : JsonRpcTransportHandler.mapToJSONRPCError(e));
  const out = await new JsonRpcTransportHandler(switchboardErrors(agent, refusal)).handle(request, context);
  if (!(Symbol.asyncIterator in out)) {
    if (out.error !== undefined && refusal.error !== undefined) out.error = switchboardError(refusal.error);
    return sendJson(res, statusOfRpc(out), out);
  }
  const iterator = out[Symbol.asyncIterator]();
  const first = await iterator.next().catch((e: unknown) => ({ error: e }));
  if ("error" in first) return sendJson(res, 200, { jsonrpc: "2.0", id: idOf(body), error: rpcErrorOf(first.error) });
  res.writeHead(200, sseHeaders);
  // One write function for both response kinds (their write overloads differ).
  const write = (text: string) => (res as http.ServerResponse).write(text);
  try {
    if (first.done !== true) write(`data: ${JSON.stringify(first.value)}\n\n`);
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) break;
      // A client gone: its task goes on (SubscribeToTask finds it); stop watching.
      if (controller.signal.aborted) {
        await iterator.return(undefined);
        break;
      }
      write(`data: ${JSON.stringify(next.value)}\n\n`);
    }
  } catch (e) {
    write(`event: error\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: idOf(body), error: rpcErrorOf(e) })}\n\n`);
  }
  res.end();
}

/**
 * switchboardErrors wraps a flow's agent so that what Switchboard itself
 * refuses (a ConnectError: unauthenticated, another tenant, rate,
 * overload) reaches the JSON-RPC client as Switchboard's custom error
 * with its reason, not as an internal error; A2A's own errors pass as
 * they are.
 */
function switchboardErrors(agent: FlowAgent, refusal: { error?: ConnectError }): FlowAgent {
  const wrap = (e: unknown): unknown => {
    if (!(e instanceof ConnectError)) return e;
    // The SDK writes the code and message of this error but drops its data;
    // the binding puts the reason back from `refusal`.
    refusal.error = e;
    return new JsonRpcTransportError({ jsonrpc: "2.0", id: null, error: switchboardError(e) });
  };
  return new Proxy(agent, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const out: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) return out.catch((e: unknown) => Promise.reject(wrap(e)));
        if (out !== null && typeof out === "object" && Symbol.asyncIterator in out) return rethrowing(out as AsyncGenerator<unknown>, wrap);
        return out;
      };
    },
  });
}

async function* rethrowing<T>(gen: AsyncGenerator<T>, wrap: (e: unknown) => unknown): AsyncGenerator<T> {
  try {
    yield* gen;
  } catch (e) {
    throw wrap(e);
  }
}

function switchboardError(e: ConnectError): { code: number; message: string; data: Record<string, unknown>[] } {
  return {
    code: switchboardJsonRpcCode,
    message: e.rawMessage,
    data: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: codeName(e.code).toUpperCase(), domain: "switchboard" }],
  };
}

function sendSwitchboardError(res: Res, id: unknown, e: ConnectError, headers: Record<string, string> = {}): void {
  const status = e.code === Code.Unauthenticated ? 401 : e.code === Code.PermissionDenied ? 403 : 200;
  sendJson(res, status, { jsonrpc: "2.0", id, error: switchboardError(e) }, headers);
}

function sendRpcError(res: Res, status: number, id: unknown, code: number, message: string): void {
  sendJson(res, status, { jsonrpc: "2.0", id, error: { code, message } });
}

function statusOfRpc(out: { error?: unknown }): number {
  const code = (out.error as { code?: number } | undefined)?.code;
  return code === -32603 ? 500 : 200;
}

function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}

function headerOf(req: Req, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function idOf(body: string): unknown {
  try {
    const parsed = JSON.parse(body) as { id?: unknown };
    return typeof parsed === "object" && parsed !== null ? (parsed.id ?? null) : null;
  } catch {
    return null;
  }
}

function userOf(identity: Identity | undefined): User {
  return { isAuthenticated: identity !== undefined, userName: identity?.subject ?? "" };
}

async function readBody(req: Req, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
