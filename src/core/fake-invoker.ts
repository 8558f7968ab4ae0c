import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { OutputDeltaSchema } from "../gen/switchboard/v1/agent_pb.js";
import { AgentResultSchema } from "../gen/switchboard/v1/turn_pb.js";
import type { AgentCall, AgentInvoker, AgentOutcome } from "./ports.js";

/**
 * FakeAnswer is what a spec's fake agent gives back for one call: the
 * agent's result (as a message init), a whole outcome when the spec cares
 * how the call went, or an error to throw.
 */
export type FakeAnswer = MessageInitShape<typeof AgentResultSchema> | AgentOutcome | Error;

/**
 * FakeAgent answers one call of a spec's fake agent.
 */
export type FakeAgent = (call: AgentCall) => FakeAnswer | Promise<FakeAnswer>;

/**
 * FakeInvokerOptions shape how a fake invoker answers.
 */
export interface FakeInvokerOptions {
  /**
   * streamText streams each result's text to the call's `onDelta` before
   * returning, as an agent that streams its whole reply at once does.
   * Without it the engine sees an unstreamed reply.
   */
  streamText?: boolean;
}

/**
 * FakeInvoker is an in-memory AgentInvoker for specs that also records
 * every call it was given, in order.
 */
export interface FakeInvoker extends AgentInvoker {
  readonly calls: AgentCall[];
}

/**
 * fakeInvoker builds an AgentInvoker for specs, with no I/O. Given a record
 * of agents it knows those agents only and fails a call to any other with
 * UNAVAILABLE; given one function it knows every agent and lets that
 * function answer all of them. Results become outcomes served by
 * `fake:<agent>` in one attempt.
 */
export function fakeInvoker(agents: Record<string, FakeAgent> | FakeAgent, options: FakeInvokerOptions = {}): FakeInvoker {
  const calls: AgentCall[] = [];
  const agentFor = (name: string): FakeAgent | undefined => (typeof agents === "function" ? agents : agents[name]);
  return {
    calls,
    has: (agent) => agentFor(agent) !== undefined,
    async invoke(call) {
      calls.push(call);
      const agent = agentFor(call.agent);
      if (agent === undefined) throw new ConnectError(`no agent ${call.agent}`, Code.Unavailable);
      const answer = await agent(call);
      if (answer instanceof Error) throw answer;
      if (isOutcome(answer)) return answer;
      const result = create(AgentResultSchema, answer);
      if (options.streamText === true) await call.onDelta(create(OutputDeltaSchema, { text: result.text }));
      return { result, instance: `fake:${call.agent}`, attempts: 1, latencyMs: 1, breaker: "closed" };
    },
  };
}

function isOutcome(answer: Exclude<FakeAnswer, Error>): answer is AgentOutcome {
  return "result" in answer && "instance" in answer;
}
