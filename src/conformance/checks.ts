import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { type AgentService, type TurnStart, TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import { Action, type AgentResult } from "../gen/switchboard/v1/turn_pb.js";
import { errorOf, type ProbeEvent, TurnProbe } from "./turn-probe.js";

/**
 * conformanceKey is the TurnStart metadata key the kit sets on every turn it
 * sends, naming the check. Its value "slow" asks the agent for a long,
 * slowly streamed answer, so that the kit can cancel it or let its budget
 * run out; an agent that does not know the key may ignore it.
 */
export const conformanceKey = "switchboard.conformance";

/**
 * CheckStatus is how one check went: "skip" when the agent gave the kit no
 * chance to test the behaviour (e.g. it answered before a cancel could
 * reach it), which is not a failure.
 */
export type CheckStatus = "pass" | "fail" | "skip";

/**
 * CheckResult is one check's outcome with what the agent did, or what to
 * fix, in words.
 */
export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** Set when the agent cannot be reached: the remaining checks are not run. */
  fatal?: boolean;
}

/**
 * ConformanceOptions tune the checks.
 */
export interface ConformanceOptions {
  /** The longest the kit waits for an answer to an ordinary request (default 5000). */
  timeoutMs: number;
  /** The budget of the deadline check's turn (default 500). */
  budgetMs: number;
  /** How long after a cancel or the budget the agent may take to stop (default 1000). */
  graceMs: number;
  /** The user's words in the slow turns (default: a request for a long answer). */
  slowText: string;
}

/**
 * defaultConformanceOptions are the options the command uses unless told otherwise.
 */
export const defaultConformanceOptions: ConformanceOptions = {
  timeoutMs: 5000,
  budgetMs: 500,
  graceMs: 1000,
  slowText: "Please tell me a long story, slowly.",
};

/**
 * Clients are the clients the checks use, all for one endpoint.
 */
export interface Clients {
  agent: Client<typeof AgentService>;
  health: Client<typeof Health>;
}

/**
 * Check is one conformance check.
 */
export interface Check {
  name: string;
  /** What the check proves, printed with its result. */
  title: string;
  run(clients: Clients, opts: ConformanceOptions): Promise<Omit<CheckResult, "name">>;
}

/**
 * settleMs is how long a slow turn must keep running after its first output
 * before the cancel check cancels it.
 */
const settleMs = 150;

let turnCounter = 0;

function turnStart(check: string, text: string, budgetMs: number, slow: boolean): TurnStart {
  const n = ++turnCounter;
  return create(TurnStartSchema, {
    sessionId: `conformance-${process.pid}-${n}`,
    turnId: `conformance-turn-${n}`,
    accountId: "conformance",
    flowId: "conformance",
    stage: "conformance",
    input: { text },
    state: { conformance: true },
    history: [],
    budget: durationFromMs(budgetMs),
    attempt: 1,
    metadata: { [conformanceKey]: slow ? "slow" : check },
  });
}

const pass = (detail: string) => ({ status: "pass" as const, detail });
const fail = (detail: string) => ({ status: "fail" as const, detail });
const skip = (detail: string) => ({ status: "skip" as const, detail });

function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function describeError(e: unknown): string {
  const err = ConnectError.from(e);
  return `${codeName(err.code)}: ${err.rawMessage}`;
}

function describeEnd(e: ProbeEvent | undefined): string {
  if (e === undefined || e.kind !== "end") return "no end";
  const err = errorOf(e);
  return err === undefined ? "OK (no error)" : describeError(err);
}

/**
 * plainTurn runs one ordinary turn and keeps what the agent answered, for
 * the "turn" and "stream" checks.
 */
async function plainTurn(clients: Clients, opts: ConformanceOptions): Promise<TurnProbe> {
  const probe = new TurnProbe(clients.agent, opts.timeoutMs);
  probe.send({ case: "start", value: turnStart("turn", "Hello from the Switchboard conformance kit.", opts.timeoutMs, false) });
  await probe.waitFor((e) => e.kind === "end", opts.timeoutMs + 500);
  probe.cancel();
  return probe;
}

const turnCache = new WeakMap<Clients, Promise<TurnProbe>>();
function sharedTurn(clients: Clients, opts: ConformanceOptions): Promise<TurnProbe> {
  let p = turnCache.get(clients);
  if (p === undefined) {
    p = plainTurn(clients, opts);
    turnCache.set(clients, p);
  }
  return p;
}

const resultOf = (e: ProbeEvent | undefined): AgentResult | undefined =>
  e?.kind === "result" && e.response.kind.case === "result" ? e.response.kind.value : undefined;

/**
 * checks are the contract's checks, in the order they run.
 */
export const checks: Check[] = [
  {
    name: "describe",
    title: "Describe returns a card with a name and a version",
    async run({ agent }, opts) {
      try {
        const { card } = await agent.describe({}, { timeoutMs: opts.timeoutMs });
        if (card === undefined || card.name === "") {
          return fail("Describe returned no card name: flows route to agents by the card's name");
        }
        if (card.version === "") return fail(`the card of ${card.name} has no version: operators tell releases apart by it`);
        const intents = card.intents.length > 0 ? `; intents: ${card.intents.join(", ")}` : "";
        return pass(`${card.name} ${card.version}${intents}`);
      } catch (e) {
        if (ConnectError.from(e).code === Code.Unavailable) {
          return { ...fail(`cannot reach the agent: ${describeError(e)}; is it running, and is the URL right?`), fatal: true };
        }
        return fail(`Describe failed with ${describeError(e)}`);
      }
    },
  },
  {
    name: "health",
    title: "grpc.health.v1.Health reports SERVING",
    async run({ health }, opts) {
      try {
        const res = await health.check({ service: "" }, { timeoutMs: opts.timeoutMs });
        if (res.status !== ServingStatus.SERVING) {
          return fail(`Health/Check says ${ServingStatus[res.status]}; a running agent reports SERVING`);
        }
        return pass("SERVING");
      } catch (e) {
        const err = ConnectError.from(e);
        if (err.code === Code.Unimplemented) {
          return fail("the agent does not serve grpc.health.v1.Health, which the orchestrator and load balancers probe");
        }
        return fail(`Health/Check failed with ${describeError(e)}`);
      }
    },
  },
  {
    name: "turn",
    title: "a turn ends with exactly one result, as the last message",
    async run(clients, opts) {
      const probe = await sharedTurn(clients, opts);
      const end = probe.ended;
      const results = probe.events.filter((e) => e.kind === "result");
      const result = resultOf(results[0]);
      if (end === undefined) return fail(`no end of the stream within ${opts.timeoutMs}ms of the start`);
      if (result === undefined) {
        return fail(
          errorOf(end) !== undefined
            ? `the turn failed with ${describeError(errorOf(end))}`
            : "the agent closed the stream without a result; send one AgentResult as the last message",
        );
      }
      const endError = errorOf(end);
      if (endError !== undefined) return fail(`the stream ended with ${describeError(endError)} after the result`);
      if (results.length > 1) return fail(`the agent sent ${results.length} results; send exactly one`);
      const last = probe.events.filter((e) => e.kind !== "end").at(-1);
      if (last !== results[0]) return fail("the agent sent output after its result; the result must be the last message");
      if (result.next?.action === Action.FAIL) {
        return fail(`the agent failed an ordinary turn: ${result.next.reason || "no reason given"}`);
      }
      return pass(`result in ${results[0]?.at}ms: ${JSON.stringify(truncate(result.text, 60))}`);
    },
  },
  {
    name: "stream",
    title: "output is streamed as deltas before the result, which holds their concatenation",
    async run(clients, opts) {
      const probe = await sharedTurn(clients, opts);
      const resultEvent = probe.events.find((e) => e.kind === "result");
      const result = resultOf(resultEvent);
      if (result === undefined) return fail("no result to compare the deltas with (see the turn check)");
      const deltas = probe.events.filter((e): e is Extract<ProbeEvent, { kind: "delta" }> => e.kind === "delta");
      if (deltas.length === 0) {
        return fail("the agent sent its whole reply in the result; stream it as OutputDelta messages as it is produced, so callers hear it sooner");
      }
      const streamed = deltas.map((d) => d.text).join("");
      if (result.text !== streamed) {
        return fail(
          `result.text ${JSON.stringify(truncate(result.text, 60))} is not the concatenation of the deltas ${JSON.stringify(truncate(streamed, 60))}`,
        );
      }
      return pass(`${deltas.length} deltas, the first after ${deltas[0]?.at}ms`);
    },
  },
  {
    name: "cancel",
    title: "a CancelTurn stops the turn at once, with CANCELLED and no result",
    async run({ agent }, opts) {
      const probe = new TurnProbe(agent, opts.timeoutMs + opts.graceMs + 2000);
      try {
        probe.send({ case: "start", value: turnStart("cancel", opts.slowText, 30_000, true) });
        const first = await probe.waitFor((e) => e.kind !== "delta" || e.text !== "", opts.timeoutMs);
        if (first === undefined) return fail(`no output within ${opts.timeoutMs}ms of a slow turn's start, so cancellation could not be tested`);
        const firstError = errorOf(first);
        if (firstError !== undefined) return fail(`the slow turn failed with ${describeError(firstError)} before any output`);
        if (first.kind !== "delta") {
          return skip(
            `the agent finished the turn (${describeEnd(probe.ended)}) before a cancel could reach it; ` +
              `serve a slow turn when TurnStart.metadata["${conformanceKey}"] is "slow", or pass --slow-text with input that makes the agent work longer`,
          );
        }
        // Cancel only a turn that is visibly still running, so that a turn
        // that was about to finish anyway is not taken for one that ignores
        // the cancel.
        const settled = await probe.waitFor((e) => e.kind !== "delta", settleMs);
        if (settled !== undefined) {
          return skip(
            `the agent finished the turn ${settled.at}ms after its start, before a cancel could reach it; ` +
              `serve a slow turn when TurnStart.metadata["${conformanceKey}"] is "slow", or pass --slow-text with input that makes the agent work longer`,
          );
        }
        const cancelledAt = probe.elapsed();
        probe.send({ case: "cancel", value: { reason: "conformance check" } });
        const end = await probe.waitFor((e) => e.kind === "end" || e.kind === "result", opts.graceMs);
        const after = probe.events.filter((e) => e.at >= cancelledAt);
        const deltasAfter = after.filter((e) => e.kind === "delta").length;
        if (end === undefined) {
          return fail(
            `the agent ignores cancellation: ${opts.graceMs}ms after CancelTurn it was still streaming (${deltasAfter} deltas since); ` +
              "stop producing output and end the stream with CANCELLED as soon as a CancelTurn arrives",
          );
        }
        if (end.kind === "result") {
          return fail(
            `the agent ignores cancellation: it sent a result ${end.at - cancelledAt}ms after CancelTurn; ` +
              "a cancelled turn's output is discarded, so stop and end the stream with CANCELLED instead",
          );
        }
        if (errorOf(end)?.code !== Code.Canceled) {
          return fail(`after CancelTurn the stream ended with ${describeEnd(end)}; end a cancelled turn with CANCELLED`);
        }
        return pass(`stopped ${end.at - cancelledAt}ms after CancelTurn with CANCELLED`);
      } finally {
        probe.cancel();
      }
    },
  },
  {
    name: "deadline",
    title: "the turn stops when its budget (TurnStart.budget) runs out, with DEADLINE_EXCEEDED",
    async run({ agent }, opts) {
      // The gRPC deadline is set past the budget, so that what ends the turn
      // is the agent itself and not this client's own timer.
      const probe = new TurnProbe(agent, opts.budgetMs + opts.graceMs + 2000);
      try {
        probe.send({ case: "start", value: turnStart("deadline", opts.slowText, opts.budgetMs, true) });
        const end = await probe.waitFor((e) => e.kind === "end" || e.kind === "result", opts.budgetMs + opts.graceMs);
        if (end === undefined) {
          const deltas = probe.events.filter((e) => e.kind === "delta" && e.at > opts.budgetMs).length;
          return fail(
            `the agent ignores its deadline: ${opts.graceMs}ms after its ${opts.budgetMs}ms budget ran out it was still working ` +
              `(${deltas} deltas past the budget); stop when the earlier of the gRPC deadline and TurnStart.budget passes, ` +
              "and end the stream with DEADLINE_EXCEEDED",
          );
        }
        if (end.kind === "result") {
          if (end.at <= opts.budgetMs) return skip(`the agent answered within its ${opts.budgetMs}ms budget (in ${end.at}ms), so expiry could not be tested`);
          return fail(
            `the agent sent its result ${end.at}ms into a ${opts.budgetMs}ms budget: output past the deadline is discarded; ` +
              "stop at the budget and end the stream with DEADLINE_EXCEEDED",
          );
        }
        if (errorOf(end)?.code !== Code.DeadlineExceeded) {
          return fail(`the slow turn ended with ${describeEnd(end)} after ${end.at}ms; end a turn whose budget ran out with DEADLINE_EXCEEDED`);
        }
        return pass(`stopped ${end.at}ms into a ${opts.budgetMs}ms budget with DEADLINE_EXCEEDED`);
      } finally {
        probe.cancel();
      }
    },
  },
  {
    name: "bad-request",
    title: "a stream that does not open with `start` is refused with INVALID_ARGUMENT",
    async run({ agent }, opts) {
      const cases: Array<[string, (p: TurnProbe) => void]> = [
        ["whose first message is `input`", (p) => p.send({ case: "input", value: { text: "no start", final: true } })],
        ["with no message at all", () => undefined],
      ];
      const seen: string[] = [];
      for (const [what, open] of cases) {
        const probe = new TurnProbe(agent, opts.timeoutMs);
        try {
          open(probe);
          probe.close();
          const end = await probe.waitFor((e) => e.kind === "end" || e.kind === "result", opts.timeoutMs);
          if (end === undefined) return fail(`a stream ${what} got no answer within ${opts.timeoutMs}ms; refuse it with INVALID_ARGUMENT`);
          if (end.kind === "result") return fail(`a stream ${what} got a result; refuse it with INVALID_ARGUMENT`);
          if (errorOf(end)?.code !== Code.InvalidArgument) {
            return fail(`a stream ${what} ended with ${describeEnd(end)}; refuse it with INVALID_ARGUMENT`);
          }
          seen.push(errorOf(end)?.rawMessage ?? "");
        } finally {
          probe.cancel();
        }
      }
      return pass(`INVALID_ARGUMENT: ${JSON.stringify(truncate(seen[0] ?? "", 80))}`);
    },
  },
];

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
