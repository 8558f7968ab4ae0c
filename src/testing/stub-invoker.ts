import { clone, create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { AgentResultSchema } from "../gen/switchboard/v1/turn_pb.js";
import type { AgentCall, AgentInvoker, AgentOutcome } from "../core/ports.js";
import type { StubReply } from "./case-stub-file.js";

/**
 * StubMiss is a call the script could not answer: the agent is stubbed
 * but no reply left matches the call, or it is not stubbed and no live
 * agent is configured.
 */
export interface StubMiss {
  agent: string;
  stage: string;
  intent: string;
  turn: number;
  message: string;
}

/**
 * StubInvoker answers agent calls from scripted replies and remembers the
 * calls it could not answer.
 */
export interface StubInvoker extends AgentInvoker {
  readonly misses: StubMiss[];
  /** The case's current turn (1-based), which replies may match. */
  turn: number;
}

/**
 * stubInvoker builds an AgentInvoker for one run of a case: a stubbed
 * agent answers each call with its first unused reply whose `match` fits
 * the call (turn, stage, intent), a reply marked `always` any number of
 * times; an agent that is not stubbed is called
 * through `live`, when given, and so is a stubbed agent no reply answers
 * when `liveFallback` is set. A call it cannot answer fails with
 * FAILED_PRECONDITION and is remembered as a miss, so the case fails on
 * it whatever the flow made of the error.
 */
export function stubInvoker(stubs: ReadonlyMap<string, readonly StubReply[]>, live?: AgentInvoker, liveFallback = false): StubInvoker {
  const used = new Set<StubReply>();
  const misses: StubMiss[] = [];
  const invoker: StubInvoker = {
    misses,
    turn: 0,
    has: (agent) => stubs.has(agent) || (live?.has(agent) ?? false),
    async invoke(call: AgentCall): Promise<AgentOutcome> {
      const replies = stubs.get(call.agent);
      const { stage, intent } = call.start;
      if (replies === undefined) {
        if (live !== undefined && live.has(call.agent)) return live.invoke(call);
        return miss(call, `agent ${call.agent} is called at stage ${stage}, but the case does not stub it${live ? " and no live instance of it is configured" : ""}`);
      }
      const reply = replies.find(
        (r) =>
          (r.always === true || !used.has(r)) &&
          (r.match.turn === undefined || r.match.turn === invoker.turn) &&
          (r.match.stage === undefined || r.match.stage === stage) &&
          (r.match.intent === undefined || r.match.intent === intent),
      );
      if (reply === undefined && liveFallback && live !== undefined && live.has(call.agent)) return live.invoke(call);
      if (reply === undefined) {
        const left = replies.filter((r) => r.always === true || !used.has(r)).length;
        return miss(call, `agent ${call.agent} is called at stage ${stage}${intent ? ` with intent ${intent}` : ""} in turn ${invoker.turn}, but ${left === 0 ? "its scripted replies are used up" : `none of its ${left} unused replies matches that call`}`);
      }
      if (reply.always !== true) used.add(reply);
      if (reply.error !== undefined) throw new ConnectError(reply.error.message, reply.error.code);
      // A fresh copy per call: the engine may keep the result in the session.
      const result = reply.result ? clone(AgentResultSchema, reply.result) : create(AgentResultSchema);
      return { result, instance: `stub:${call.agent}`, attempts: 1, latencyMs: 0, breaker: "closed" };
    },
  };
  function miss(call: AgentCall, message: string): never {
    misses.push({ agent: call.agent, stage: call.start.stage, intent: call.start.intent, turn: invoker.turn, message });
    throw new ConnectError(message, Code.FailedPrecondition);
  }
  return invoker;
}
