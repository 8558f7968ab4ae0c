import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import { type AgentResult, AgentResultSchema } from "../gen/switchboard/v1/turn_pb.js";
import { agentCallFactsOf, hasMark, mark } from "../core/errors.js";
import type { AgentCall } from "../core/ports.js";
import type { StreamProgress } from "./agent-stream.js";
import type { Balancer } from "./balancer.js";
import { Bulkhead } from "./bulkhead.js";
import { type Pickable, Picker, type PickerEntry } from "./picker.js";
import type { RetrySettings } from "./retry.js";
import { RetryBudget } from "./retry-budget.js";
import { type CallChannel, RetryingCall, type RetryingCallState } from "./retrying-call.js";

const instance = (id: string): Pickable => ({ id, endpoint: `http://${id}`, inFlight: 0, cost: () => 0 });
const first: Balancer = { pick: (candidates) => candidates[0] };
const settings: RetrySettings = { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 };
const result = create(AgentResultSchema, { text: "done" });
const retryable = (message: string) => mark(new ConnectError(message, Code.Unavailable), "retryable");

/** Attempt is one scripted attempt: what it delivers, then how it ends. */
type Attempt = (progress: StreamProgress, instance: Pickable) => Promise<AgentResult>;

/**
 * channel is a mesh without sockets: its picker can be replaced between
 * picks, and its attempts follow a script. It records the instances called
 * and the call's state at each attempt.
 */
function channel(entries: PickerEntry<Pickable>[], script: Attempt[], bulkhead = new Bulkhead(4, 4)) {
  const gates = [{ bulkhead, owner: "agent refund" }];
  const log = {
    called: [] as string[],
    states: [] as RetryingCallState[],
    picker: new Picker("refund", entries, first, gates, 0),
    replace(next: PickerEntry<Pickable>[]) {
      log.picker = new Picker("refund", next, first, gates, 0);
    },
  };
  let call: RetryingCall<Pickable> | undefined;
  const ch: CallChannel<Pickable> = {
    pick: (_agent, args) => log.picker.pick(args, 0),
    attempt: (picked, _call, n, _timeoutMs, progress) => {
      log.called.push(picked.id);
      if (call !== undefined) log.states.push(call.state);
      const step = script[n - 1];
      if (step === undefined) throw new Error(`attempt ${n} not scripted`);
      return step(progress, picked);
    },
  };
  const start = (budget = new RetryBudget(), timeoutMs = 5_000) => {
    call = new RetryingCall(agentCall(timeoutMs), ch, budget, settings, () => 0);
    return call;
  };
  return { log, start, bulkhead };
}

function agentCall(timeoutMs: number): AgentCall {
  return {
    agent: "refund",
    start: create(TurnStartSchema, {}),
    signal: new AbortController().signal,
    timeoutMs,
    onDelta: () => undefined,
  };
}

const closed = (...ids: string[]): PickerEntry<Pickable>[] => ids.map((id) => ({ instance: instance(id), permits: "closed", healthy: true }));
const failed = (call: RetryingCall<Pickable>) => call.run().then(() => expect.fail("the call succeeded"), (e: unknown) => e as ConnectError);

describe("RetryingCall", () => {
  it("queues for its bulkhead slot, sends attempts holding it, and commits to the one that succeeds", async () => {
    const { log, start, bulkhead } = channel(closed("a"), [async () => (expect(bulkhead.running).toBe(1), result)]);
    const call = start();
    expect(call.state).toBe("queued");
    const outcome = await call.run();
    expect(outcome).toMatchObject({ result, instance: "http://a", attempts: 1, breaker: "closed" });
    expect(log.states).toEqual(["retry"]);
    expect(call.state).toBe("committed");
    expect(bulkhead.running).toBe(0);
  });

  it("retries a retryable failure on an instance not tried yet", async () => {
    const { log, start } = channel(closed("a", "b"), [() => Promise.reject(retryable("a is down")), async () => result]);
    const outcome = await start().run();
    expect(log.called).toEqual(["a", "b"]);
    expect(outcome).toMatchObject({ instance: "http://b", attempts: 2 });
  });

  it("stops after the most attempts, with the last attempt's error", async () => {
    const down = () => Promise.reject(retryable("down"));
    const { log, start } = channel(closed("a", "b"), [down, down, down]);
    const err = await failed(start());
    expect(err.rawMessage).toBe("down");
    expect(log.called).toEqual(["a", "b", "a"]);
    expect(agentCallFactsOf(err)).toMatchObject({ agent: "refund", instance: "http://a", attempts: 3, breaker: "closed" });
  });

  it("never retries once output reached the caller: the call is committed", async () => {
    const { log, start } = channel(closed("a", "b"), [
      async (progress) => {
        progress.deliver("Hello, ");
        throw retryable("a broke off the stream");
      },
    ]);
    const call = start();
    const err = await failed(call);
    expect(err.rawMessage).toBe("a broke off the stream");
    expect(call.state).toBe("committed");
    expect(call.delivered).toBe(true);
    expect(log.called).toEqual(["a"]);
    expect(agentCallFactsOf(err)?.output).toBe("Hello, ");
  });

  it("does not retry errors not marked retryable, whatever their code or message", async () => {
    for (const err of [new ConnectError("unavailable, retry me", Code.Unavailable), new ConnectError("boom", Code.Internal)]) {
      const { log, start } = channel(closed("a", "b"), [() => Promise.reject(err)]);
      expect(await failed(start())).toBe(err);
      expect(log.called).toEqual(["a"]);
    }
  });

  it("does not retry once the agent's retry budget is spent, and each instance failure spends from it", async () => {
    const budget = new RetryBudget({ maxTokens: 4, tokenRatio: 0.1 });
    budget.onFailure(); // 3 of 4 tokens left: one more failure leaves half
    const { log, start } = channel(closed("a", "b"), [() => Promise.reject(retryable("a is down")), async () => result]);
    const err = await failed(start(budget));
    expect(err.rawMessage).toBe("a is down");
    expect(log.called).toEqual(["a"]);
    expect(budget.allowsRetry()).toBe(false);
  });

  it("names an agent unroutable before any attempt, with the picker's reason in its facts", async () => {
    const { log, start } = channel([{ instance: instance("a"), permits: undefined, healthy: true }], []);
    const err = await failed(start());
    expect(hasMark(err, "unroutable")).toBe(true);
    expect(agentCallFactsOf(err)).toMatchObject({ attempts: 0, instance: "", breaker: "open" });
    expect(log.called).toEqual([]);
  });

  it("ends with the attempt's error, not an unroutable one, when a replaced picker leaves no instance to retry on", async () => {
    const { log, start } = channel(closed("a"), [
      () => {
        log.replace([{ instance: instance("a"), permits: undefined, healthy: true }]);
        return Promise.reject(retryable("a is down"));
      },
    ]);
    const err = await failed(start());
    expect(err.rawMessage).toBe("a is down");
    expect(hasMark(err, "unroutable")).toBe(false);
    expect(agentCallFactsOf(err)).toMatchObject({ attempts: 1, instance: "http://a" });
  });

  it("refuses at once when its bulkhead is full", async () => {
    const bulkhead = new Bulkhead(1, 0);
    const held = await bulkhead.acquire(new AbortController().signal);
    const { log, start } = channel(closed("a"), [async () => result], bulkhead);
    const err = await failed(start());
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toBe("agent refund has 1 turns running and 0 waiting, its limit; try again shortly");
    expect(log.called).toEqual([]);
    held();
  });

  it("fails with DEADLINE_EXCEEDED when the turn's time ran out before an instance could be called", async () => {
    const { log, start } = channel(closed("a"), []);
    const err = await failed(start(new RetryBudget(), 0));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.rawMessage).toBe("agent refund: the turn's budget of 0ms ran out before an instance could be called");
    expect(log.called).toEqual([]);
  });
});
