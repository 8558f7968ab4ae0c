import type { JsonObject } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import { type Session, SessionStatus, type Step } from "../gen/switchboard/v1/session_pb.js";
import { celVars } from "../core/cel-vars.js";
import { Engine } from "../core/engine.js";
import { codeName } from "../core/errors.js";
import { type AgentInvoker, type Clock, systemClock } from "../core/ports.js";
import { quietTurnEvents, type TurnEvents } from "../core/turn-events.js";
import { MemoryStore } from "../store/memory-store.js";
import type { CaseTurn, TestCase } from "./case-file.js";
import type { StubReply } from "./case-stub-file.js";
import type { FlowCoverage } from "./flow-coverage.js";
import { type StubMiss, stubInvoker } from "./stub-invoker.js";

/**
 * TurnView is what happened in one turn of a case, as expectations see it.
 */
export interface TurnView {
  /** The stage the session is in after the turn. */
  stage: string;
  /** The agent that served the turn last. */
  agent: string;
  reply: string;
  status: string;
  state: JsonObject;
  session?: Session;
  /** The turn's steps, in order. */
  steps: Step[];
  error?: { code: string; message: string };
  miss?: StubMiss;
}

/**
 * Mismatch is the first expectation of a case that did not hold.
 */
export interface Mismatch {
  /** The turn (1-based). */
  turn: number;
  /** The line of the expectation in the case file. */
  line: number;
  /** What was checked: "stage", "reply_contains", "state", "agent stub"... */
  what: string;
  expected: string;
  actual: string;
}

/**
 * CaseResult is how one case went.
 */
export interface CaseResult {
  readonly case: TestCase;
  /** The flow it ran against, as "id@version". */
  readonly flow: string;
  readonly mismatch?: Mismatch;
  /** Every turn that ran, up to the first mismatch. */
  readonly turns: TurnView[];
  readonly ms: number;
}

/**
 * CaseRunOptions tune a run of a case.
 */
export interface CaseRunOptions {
  /** Counts what the run exercised of the flow. */
  coverage?: FlowCoverage;
  /** Calls the agents the case does not stub. */
  live?: AgentInvoker;
  /** Also calls `live` for a stubbed agent none of whose replies fits a call. */
  liveFallback?: boolean;
  /** The stubs to answer with instead of the case's own (a replay's). */
  stubs?: ReadonlyMap<string, readonly StubReply[]>;
  clock?: Clock;
  /** Runs every turn instead of stopping at the first mismatch. */
  all?: boolean;
}

/**
 * runCase runs a case against a flow on the engine the server runs, with
 * an in-memory store and its scripted agents, and checks each turn's
 * expectations in order; it stops at the first that does not hold.
 */
export async function runCase(testCase: TestCase, flow: Flow, opts: CaseRunOptions = {}): Promise<CaseResult> {
  const started = performance.now();
  const store = new MemoryStore();
  const invoker = stubInvoker(opts.stubs ?? testCase.stubs, opts.live, opts.liveFallback);
  let ids = 0;
  const engine = new Engine({
    store,
    invoker,
    flows: { defaultFlowId: flow.id, get: (id, version) => (id === flow.id && (version === "" || version === flow.version) ? flow : undefined) },
    clock: opts.clock ?? systemClock,
    newId: () => `id-${++ids}`,
    sessionTtlMs: 24 * 3600_000,
    defaultAgentTimeoutMs: 30_000,
  });
  const sessionId = "case";
  const turns: TurnView[] = [];
  let mismatch: Mismatch | undefined;
  // The engine tells what it stores: each turn's steps, committed or failed.
  let own: Step[] = [];
  const events: TurnEvents = {
    ...quietTurnEvents,
    storing: ({ steps }) => {
      own.push(...steps);
      return { details: [], lastSeq: 0n };
    },
  };
  for (const [i, turn] of testCase.turns.entries()) {
    invoker.turn = i + 1;
    invoker.misses.length = 0;
    own = [];
    let response: SendTurnResponse | undefined;
    let error: ConnectError | undefined;
    try {
      response = await engine.runTurn(
        { sessionId, accountId: testCase.account, flowId: flow.id, turnId: `turn-${i + 1}`, input: turn.input, tenant: "", anyTenant: true, metadata: {}, rerun: "anytime" },
        new AbortController().signal,
        undefined,
        events,
      );
    } catch (e) {
      error = ConnectError.from(e);
    }
    const session = response?.session ?? (await store.get(sessionId));
    opts.coverage?.noteSteps(own);
    if (session !== undefined && i === 0) opts.coverage?.hitStage(flow.initialStage || (flow.stages[0]?.name ?? ""));
    const view: TurnView = {
      stage: session?.stage ?? "",
      agent: response?.agent ?? "",
      reply: response?.output ?? "",
      status: statusName(session?.status ?? SessionStatus.UNSPECIFIED),
      state: (session?.state ?? {}) as JsonObject,
      ...(session ? { session } : {}),
      steps: own,
      ...(error ? { error: { code: codeName(error.code), message: error.rawMessage } } : {}),
      ...(invoker.misses[0] ? { miss: invoker.misses[0] } : {}),
    };
    turns.push(view);
    mismatch ??= checkTurn(turn, i + 1, view);
    if (mismatch !== undefined && opts.all !== true) break;
  }
  return { case: testCase, flow: `${flow.id}@${flow.version}`, ...(mismatch ? { mismatch } : {}), turns, ms: performance.now() - started };
}

/**
 * statusName names a session status as cases write it ("waiting").
 */
export function statusName(status: SessionStatus): string {
  return (SessionStatus[status] ?? "unspecified").toLowerCase();
}

/**
 * checkTurn checks one turn's expectations in order and returns the first
 * that does not hold.
 */
function checkTurn(turn: CaseTurn, n: number, view: TurnView): Mismatch | undefined {
  const x = turn.expect;
  const at = (what: string) => turn.lines[what] ?? turn.line;
  const differ = (what: string, expected: string, actual: string): Mismatch => ({ turn: n, line: at(what), what, expected, actual });
  if (view.miss !== undefined) return { turn: n, line: turn.line, what: "agent stub", expected: `a scripted reply of agent ${view.miss.agent}`, actual: view.miss.message };
  if (x.error !== undefined) {
    if (view.error === undefined) return differ("error", x.error.code, "the turn succeeded");
    if (view.error.code !== x.error.code) return differ("error", x.error.code, `${view.error.code}: ${view.error.message}`);
    if (x.error.contains !== undefined && !view.error.message.includes(x.error.contains)) return differ("error_contains", x.error.contains, view.error.message);
  } else if (view.error !== undefined) {
    return { turn: n, line: turn.line, what: "error", expected: "the turn succeeds", actual: `${view.error.code}: ${view.error.message}` };
  }
  if (x.stage !== undefined && x.stage !== view.stage) return differ("stage", x.stage, view.stage);
  if (x.agent !== undefined && x.agent !== view.agent) return differ("agent", x.agent, view.agent);
  if (x.reply !== undefined && x.reply !== view.reply) return differ("reply", quote(x.reply), quote(view.reply));
  for (const part of x.replyContains ?? []) {
    if (!view.reply.includes(part)) return differ("reply_contains", quote(part), quote(view.reply));
  }
  if (x.replyMatches !== undefined && !x.replyMatches.test(view.reply)) return differ("reply_matches", String(x.replyMatches), quote(view.reply));
  if (x.status !== undefined && x.status !== view.status) return differ("status", x.status, view.status);
  const firstCheck = x.state[0];
  if (firstCheck !== undefined && view.session === undefined) {
    return { turn: n, line: firstCheck.line, what: "state", expected: firstCheck.expr, actual: "no session: the conversation has not started" };
  }
  if (x.state.length > 0 && view.session !== undefined) {
    const vars = celVars(view.session, turn.input);
    for (const check of x.state) {
      const holds = check.program.evaluate(vars);
      if (holds !== true) {
        return { turn: n, line: check.line, what: "state", expected: check.expr, actual: holds instanceof Error ? `cannot evaluate: ${holds.message}; state is ${JSON.stringify(view.state)}` : `false; state is ${JSON.stringify(view.state)}` };
      }
    }
  }
  if (x.end !== undefined) {
    const summary = view.session?.summary;
    if (summary === undefined) return differ("end", "the session ended", `the session is ${view.status} at stage ${view.stage}`);
    if (x.end.outcome !== undefined && !summary.outcome.includes(x.end.outcome)) return differ("end", `outcome containing ${quote(x.end.outcome)}`, quote(summary.outcome));
    for (const list of ["stages", "intents", "agents"] as const) {
      const want = x.end[list];
      if (want !== undefined && want.join(",") !== summary[list].join(",")) return differ("end", `${list} ${want.join(", ")}`, `${list} ${summary[list].join(", ")}`);
    }
  }
  return undefined;
}

function quote(s: string): string {
  return JSON.stringify(s);
}
