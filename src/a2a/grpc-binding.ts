import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { defaultServerCallContextBuilder, type ServerCallContext } from "@a2a-js/sdk/server";
import { A2AService as SdkA2AService } from "@a2a-js/sdk/server/grpc";
import {
  A2AService,
  AgentCardSchema,
  SendMessageResponseSchema,
  StreamResponseSchema,
  TaskSchema,
} from "../gen/lf/a2a/v1/a2a_pb.js";
import { identityOf } from "../server/identity.js";
import type { A2aAgents } from "./a2a-agents.js";
import { connectErrorOf } from "./a2a-errors.js";
import { type A2aCall, callKey, type FlowAgent } from "./flow-agent.js";

/**
 * toSdk and fromSdk convert a message between protobuf-es (what Connect
 * serves) and the SDK's types (what the A2A handler takes), through the
 * binary wire format both read and write: the two are generated from the
 * same lf.a2a.v1 definition, so nothing is lost.
 */
function toSdk<T>(schema: DescMessage, message: MessageShape<DescMessage>, decode: (b: Buffer) => T): T {
  return decode(Buffer.from(toBinary(schema, message)));
}

function fromSdk<D extends DescMessage>(schema: D, encode: () => Buffer): MessageShape<D> {
  return fromBinary(schema, encode());
}

/**
 * a2aGrpcService implements lf.a2a.v1.A2AService, the A2A protocol's gRPC
 * binding, as a Connect service on the orchestrator's port (so gRPC,
 * gRPC-Web and Connect clients all reach it, behind the same interceptors
 * as every RPC: bearer tokens, stream limits). It serves the default
 * flow, as the service's names are fixed and name no flow; a message in
 * an existing context goes to that session's flow, whatever it is. A2A's
 * errors keep the protocol's gRPC codes with a google.rpc.ErrorInfo
 * detail, which A2A clients read.
 */
export function a2aGrpcService(agents: A2aAgents): ServiceImpl<typeof A2AService> {
  const agentOf = (ctx: HandlerContext): FlowAgent => {
    const flow = agents.flow(agents.defaultFlowId);
    if (flow === undefined) {
      throw new ConnectError(`the default A2A flow "${agents.defaultFlowId}" is not loaded; load it or set another default flow`, Code.FailedPrecondition);
    }
    return agents.agent(flow, ctx.requestHeader.get("host") ?? "localhost");
  };
  const contextOf = (ctx: HandlerContext, tenant: string): ServerCallContext => {
    const identity = identityOf(ctx);
    const version = ctx.requestHeader.get("a2a-version");
    const context = defaultServerCallContextBuilder({
      extensions: undefined,
      user: { isAuthenticated: identity !== undefined, userName: identity?.subject ?? "" },
      headers: Object.fromEntries(ctx.requestHeader.entries()),
      ...(version !== null ? { requestedVersion: version } : {}),
      ...(tenant !== "" ? { tenant } : {}),
    });
    const ms = ctx.timeoutMs();
    const call: A2aCall = { ctx, signal: ctx.signal, deadline: ms === undefined ? undefined : Date.now() + ms };
    context.state.set(callKey, call);
    return context;
  };
  const guarded = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      throw connectErrorOf(e);
    }
  };
  async function* guardedStream<T>(gen: AsyncGenerator<T>): AsyncGenerator<T> {
    try {
      yield* gen;
    } catch (e) {
      throw connectErrorOf(e);
    }
  }
  const m = SdkA2AService;
  return {
    sendMessage: (req, ctx) =>
      guarded(async () => {
        const out = await agentOf(ctx).sendMessage(toSdk(A2AService.method.sendMessage.input, req, m.sendMessage.requestDeserialize), contextOf(ctx, req.tenant));
        const payload = "messageId" in out ? { $case: "message" as const, value: out } : { $case: "task" as const, value: out };
        return fromSdk(SendMessageResponseSchema, () => m.sendMessage.responseSerialize({ payload }));
      }),
    async *sendStreamingMessage(req, ctx) {
      const params = toSdk(A2AService.method.sendStreamingMessage.input, req, m.sendStreamingMessage.requestDeserialize);
      for await (const ev of guardedStream(agentOf(ctx).sendMessageStream(params, contextOf(ctx, req.tenant)))) {
        yield fromSdk(StreamResponseSchema, () => m.sendStreamingMessage.responseSerialize(ev));
      }
    },
    getTask: (req, ctx) =>
      guarded(async () => {
        const task = await agentOf(ctx).getTask(toSdk(A2AService.method.getTask.input, req, m.getTask.requestDeserialize), contextOf(ctx, req.tenant));
        return fromSdk(TaskSchema, () => m.getTask.responseSerialize(task));
      }),
    cancelTask: (req, ctx) =>
      guarded(async () => {
        const task = await agentOf(ctx).cancelTask(toSdk(A2AService.method.cancelTask.input, req, m.cancelTask.requestDeserialize), contextOf(ctx, req.tenant));
        return fromSdk(TaskSchema, () => m.cancelTask.responseSerialize(task));
      }),
    async *subscribeToTask(req, ctx) {
      const params = toSdk(A2AService.method.subscribeToTask.input, req, m.subscribeToTask.requestDeserialize);
      for await (const ev of guardedStream(agentOf(ctx).resubscribe(params, contextOf(ctx, req.tenant)))) {
        yield fromSdk(StreamResponseSchema, () => m.subscribeToTask.responseSerialize(ev));
      }
    },
    getExtendedAgentCard: (req, ctx) =>
      guarded(async () => {
        const params = toSdk(A2AService.method.getExtendedAgentCard.input, req, m.getExtendedAgentCard.requestDeserialize);
        const card = await agentOf(ctx).getAuthenticatedExtendedAgentCard(params, contextOf(ctx, req.tenant));
        return fromSdk(AgentCardSchema, () => m.getExtendedAgentCard.responseSerialize(card));
      }),
    listTasks: (_req, ctx) => guarded(() => agentOf(ctx).listTasks()),
    createTaskPushNotificationConfig: (_req, ctx) => guarded(() => agentOf(ctx).createTaskPushNotificationConfig()),
    getTaskPushNotificationConfig: (_req, ctx) => guarded(() => agentOf(ctx).getTaskPushNotificationConfig()),
    listTaskPushNotificationConfigs: (_req, ctx) => guarded(() => agentOf(ctx).listTaskPushNotificationConfigs()),
    deleteTaskPushNotificationConfig: (_req, ctx) => guarded(() => agentOf(ctx).deleteTaskPushNotificationConfig()),
  };
}
