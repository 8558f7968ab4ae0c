import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Branch, FailurePolicy, Join, Merge, type Parallel } from "../gen/switchboard/v1/flow_pb.js";
import { type Step, StepKind, StepSchema, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { type AgentResult, AgentResultSchema } from "../gen/switchboard/v1/turn_pb.js";
import type { BranchView } from "./cel-vars.js";
import { codeName, failedPrecondition, mark } from "./errors.js";
import type { AgentOutcome } from "./ports.js";

/**
 * BranchRun is how one branch of a parallel stage went.
 */
export interface BranchRun {
  readonly branch: Branch;
  /** "cancelled": the join was decided before the branch finished. */
  readonly status: "ok" | "failed" | "cancelled";
  readonly outcome?: AgentOutcome;
  readonly error?: ConnectError;
  readonly startedAt: Date;
  readonly endedAt: Date;
}

/**
 * ParallelJoin is a parallel stage's outcome once its join is met.
 */
export interface ParallelJoin {
  readonly runs: readonly BranchRun[];
  /** The stage's result: the successful branches' texts and merged patches. */
  readonly result: AgentResult;
  /** What transitions see as `result.branches`. */
  readonly branches: Record<string, BranchView>;
}

/**
 * needed returns how many branches must succeed for the join.
 */
export function needed(parallel: Parallel): number {
  switch (parallel.join) {
    case Join.ANY:
      return 1;
    case Join.AT_LEAST:
      return parallel.minSuccesses;
    default:
      return parallel.branches.length;
  }
}

/**
 * runParallel calls every branch at once and returns once every branch has
 * finished, or as soon as the join is decided early: lost (too many
 * branches failed to meet it, or one failed under
 * FAILURE_POLICY_FAIL_FAST), or, for JOIN_ANY, met by the first success.
 * Branches still running then are cancelled through their signal and
 * reported as cancelled. It never throws: `joinBranches` turns the runs
 * into a result or an error.
 */
export async function runParallel(
  parallel: Parallel,
  signal: AbortSignal,
  call: (branch: Branch, signal: AbortSignal) => Promise<AgentOutcome>,
  now: () => Date,
): Promise<BranchRun[]> {
  const n = parallel.branches.length;
  const need = needed(parallel);
  const failFast = parallel.failurePolicy === FailurePolicy.FAIL_FAST;
  const controllers = parallel.branches.map(() => new AbortController());
  const runs: Array<BranchRun | undefined> = new Array(n);
  const cancelAll = (reason: unknown) => controllers.forEach((c) => c.abort(reason));
  const onAbort = () => cancelAll(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let ok = 0;
  let failed = 0;
  let decided = false;
  const decide = () => {
    if (decided) return;
    decided = true;
    const reason = new ConnectError("the parallel stage's join was decided without this branch", Code.Canceled);
    controllers.forEach((c, i) => {
      if (runs[i] === undefined) c.abort(reason);
    });
  };
  try {
    if (signal.aborted) onAbort();
    await Promise.all(
      parallel.branches.map(async (branch, i) => {
        const startedAt = now();
        try {
          const outcome = await call(branch, (controllers[i] as AbortController).signal);
          if (decided) {
            runs[i] = { branch, status: "cancelled", outcome, startedAt, endedAt: now() };
            return;
          }
          runs[i] = { branch, status: "ok", outcome, startedAt, endedAt: now() };
          // Only JOIN_ANY settles on its first success: the other joins let
          // every branch finish, so which ones count is never a race.
          if (++ok >= need && parallel.join === Join.ANY) decide();
        } catch (e) {
          const error = ConnectError.from(e);
          runs[i] = { branch, status: decided ? "cancelled" : "failed", error, startedAt, endedAt: now() };
          if (decided) return;
          failed++;
          if (failFast || n - failed < need) decide();
        }
      }),
    );
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return runs as BranchRun[];
}

/**
 * joinBranches turns a parallel stage's runs into its result, merging the
 * successful branches' state patches by the stage's rule. A join that was
 * not met throws an error marked as a stage failure; a merge conflict
 * throws FAILED_PRECONDITION naming the branches and key.
 */
export function joinBranches(stage: string, parallel: Parallel, runs: readonly BranchRun[]): ParallelJoin {
  const need = needed(parallel);
  const ok = runs.filter((r) => r.status === "ok");
  const branches: Record<string, BranchView> = {};
  for (const r of runs) {
    branches[r.branch.name] = {
      status: r.status,
      text: r.outcome?.result.text ?? "",
      error: r.error ? `${codeName(r.error.code)}: ${r.error.rawMessage}` : "",
    };
  }
  if (ok.length < need) {
    const failures = runs.filter((r) => r.status === "failed");
    const first = failures[0]?.error;
    const detail = failures.map((r) => `${r.branch.name} (${r.error ? `${codeName(r.error.code)}: ${r.error.rawMessage}` : "failed"})`).join(", ");
    throw mark(
      new ConnectError(
        `parallel stage ${JSON.stringify(stage)} needed ${need} of ${runs.length} branches to succeed, ${ok.length} did; failed: ${detail || "none"}`,
        first?.code ?? Code.Unavailable,
      ),
      "stage-failure",
    );
  }
  const patch = mergePatches(stage, parallel.merge, ok);
  const text = ok.map((r) => r.outcome?.result.text ?? "").filter((t) => t !== "").join("\n");
  return { runs, branches, result: create(AgentResultSchema, { text, ...(patch ? { statePatch: patch } : {}) }) };
}

function mergePatches(stage: string, merge: Merge, ok: readonly BranchRun[]): JsonObject | undefined {
  const merged: { [key: string]: JsonValue } = {};
  const owner = new Map<string, string>();
  let any = false;
  for (const r of ok) {
    const patch = r.outcome?.result.statePatch;
    if (merge === Merge.BY_BRANCH) {
      merged[r.branch.name] = patch ?? {};
      any = true;
      continue;
    }
    for (const [key, value] of Object.entries(patch ?? {})) {
      const other = owner.get(key);
      if (other !== undefined && merge !== Merge.LAST_WINS) {
        throw failedPrecondition(
          `parallel stage ${JSON.stringify(stage)}: branches ${JSON.stringify(other)} and ${JSON.stringify(r.branch.name)} both set state key ${JSON.stringify(key)} (merge MERGE_DISJOINT); make the agents set different keys, or use MERGE_BY_BRANCH or MERGE_LAST_WINS`,
        );
      }
      owner.set(key, r.branch.name);
      merged[key] = value;
      any = true;
    }
  }
  return any ? merged : undefined;
}

/**
 * BranchStepFacts are the facts the audit-trail steps of branches need.
 */
export interface BranchStepFacts {
  sessionId: string;
  version: bigint;
  turnId: string;
  stage: string;
  intent: string;
}

/**
 * branchSteps records each branch of a parallel stage as an audit-trail step.
 */
export function branchSteps(runs: readonly BranchRun[], facts: BranchStepFacts): Step[] {
  return runs.map((r) =>
    create(StepSchema, {
      sessionId: facts.sessionId,
      version: facts.version,
      turnId: facts.turnId,
      kind: StepKind.BRANCH,
      stage: facts.stage,
      intent: facts.intent,
      agent: r.branch.agent,
      instance: r.outcome?.instance ?? "",
      attempts: r.outcome?.attempts ?? 1,
      status: r.status === "ok" ? StepStatus.OK : StepStatus.FAILED,
      latency: durationFromMs(Math.max(0, r.endedAt.getTime() - r.startedAt.getTime())),
      output: r.outcome?.result.text ?? "",
      ...(r.outcome?.result.statePatch ? { statePatch: r.outcome.result.statePatch } : {}),
      ...(r.error ? { error: { code: codeName(r.error.code), message: r.error.rawMessage } } : {}),
      startTime: timestampFromDate(r.startedAt),
      endTime: timestampFromDate(r.endedAt),
      breaker: r.outcome?.breaker ?? "",
      details: { branch: r.branch.name, branch_status: r.status },
    }),
  );
}
