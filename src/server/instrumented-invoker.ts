import { SpanKind, trace } from "@opentelemetry/api";
import { copyMessage } from "../core/copy-message.js";
import { ConnectError } from "@connectrpc/connect";
import { TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import { codeName } from "../core/errors.js";
import type { AgentCall, AgentInvoker, AgentOutcome } from "../core/ports.js";
import type { Logger } from "../log.js";
import type { Metrics } from "./metrics.js";
import { childSpan, failSpan, formatTraceparent, withOutgoingTraceparent } from "./tracing.js";

/**
 * instrumentInvoker wraps an AgentInvoker so every agent call is a child
 * span of its turn, passes the trace on to the agent (`traceparent` in
 * TurnStart.metadata and as a request header), is timed in the metrics and
 * logged as one line.
 */
export function instrumentInvoker(invoker: AgentInvoker, metrics: Metrics | undefined, log: Logger): AgentInvoker {
  return {
    has: (agent) => invoker.has(agent),
    async invoke(call: AgentCall): Promise<AgentOutcome> {
      const span = childSpan(`switchboard.agent ${call.agent}`, SpanKind.CLIENT, {
        "rpc.system": "grpc",
        "rpc.service": "switchboard.v1.AgentService",
        "rpc.method": "HandleTurn",
        "switchboard.agent": call.agent,
        "switchboard.session_id": call.start.sessionId,
        "switchboard.turn_id": call.start.turnId,
        "switchboard.stage": call.start.stage,
      });
      const sc = span.spanContext();
      const traced = trace.isSpanContextValid(sc);
      const traceparent = traced ? formatTraceparent(sc) : undefined;
      let start = call.start;
      if (traceparent !== undefined) {
        start = copyMessage(TurnStartSchema, call.start);
        start.metadata["traceparent"] = traceparent;
        const tracestate = sc.traceState?.serialize();
        if (tracestate) start.metadata["tracestate"] = tracestate;
        else delete start.metadata["tracestate"];
      }
      const started = performance.now();
      const fields = {
        sessionId: call.start.sessionId,
        turnId: call.start.turnId,
        traceId: traced ? sc.traceId : "",
        agent: call.agent,
        stage: call.start.stage,
      };
      try {
        const run = () => invoker.invoke({ ...call, start });
        const outcome = traceparent !== undefined ? await withOutgoingTraceparent(traceparent, run) : await run();
        const seconds = (performance.now() - started) / 1000;
        metrics?.agentCall(call.agent, "ok", seconds);
        metrics?.retried(call.agent, outcome.attempts - 1);
        span.setAttribute("switchboard.instance", outcome.instance);
        span.setAttribute("switchboard.attempts", outcome.attempts);
        // The turn's own line says which agent answered and how fast; the
        // call's detail (instance, attempts) is for debugging. One line a
        // turn at info, not two: two lines were about 6% of a turn's CPU.
        if (log.isLevelEnabled("debug")) {
          log.debug({ ...fields, instance: outcome.instance, attempts: outcome.attempts, outcome: "ok", latencyMs: Math.round(seconds * 1000) }, "agent call");
        }
        return outcome;
      } catch (e) {
        const err = ConnectError.from(e);
        const outcome = codeName(err.code);
        const seconds = (performance.now() - started) / 1000;
        metrics?.agentCall(call.agent, outcome, seconds);
        failSpan(span, err);
        log.warn({ ...fields, outcome, error: err.rawMessage, latencyMs: Math.round(seconds * 1000) }, "agent call failed");
        throw e;
      } finally {
        span.end();
      }
    },
  };
}
