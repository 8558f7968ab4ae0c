import { durationMs } from "@bufbuild/protobuf/wkt";
import { copyMessage } from "./copy-message.js";
import { ConnectError } from "@connectrpc/connect";
import { type OutputDelta, TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { Stage } from "../gen/switchboard/v1/flow_pb.js";
import type { BranchView } from "./cel-vars.js";
import { mark } from "./errors.js";
import { type BranchRun, joinBranches, runParallel } from "./parallel.js";
import type { AgentCall, AgentInvoker, AgentOutcome } from "./ports.js";

/**
 * StageCallDeps are the ports a stage's agent calls need.
 */
export interface StageCallDeps {
  invoker: AgentInvoker;
  now: () => Date;
}

/**
 * StageRun is the outcome of a stage's agent call, or of all its branches.
 */
export interface StageRun {
  /** For a parallel stage, the joined result with the summed attempts. */
  outcome: AgentOutcome;
  /** For a parallel stage: each branch as transitions see it. */
  branches?: Record<string, BranchView>;
  /** For a parallel stage: the agents of the branches that succeeded. */
  branchAgents?: string[];
  /** For a parallel stage: how each branch went, for the audit trail. */
  runs?: readonly BranchRun[];
}

/**
 * callStage runs a stage's agent work: one agent call (the invoker retries
 * it under the stage's retry policy, `call.retry`), or, for a parallel stage, every branch at once under its
 * branch timeout, joined and merged by the stage's rules. A failure of the
 * work itself (the agent call failed, the join was not met) is marked as a
 * stage failure unless the caller cancelled the turn.
 */
export async function callStage(
  deps: StageCallDeps,
  stage: Stage,
  call: AgentCall,
  onBranchDelta: (delta: OutputDelta, agent: string) => void,
): Promise<StageRun> {
  const parallel = stage.parallel;
  if (parallel === undefined) {
    try {
      return { outcome: await deps.invoker.invoke(call) };
    } catch (e) {
      const err = ConnectError.from(e);
      throw call.signal.aborted ? err : mark(err, "stage-failure");
    }
  }
  const started = deps.now().getTime();
  const branchTimeout = parallel.branchTimeout ? durationMs(parallel.branchTimeout) : call.timeoutMs;
  const runs = await runParallel(
    parallel,
    call.signal,
    (branch, signal) => {
      const start = copyMessage(TurnStartSchema, call.start);
      start.metadata["branch"] = branch.name;
      const branchCall: AgentCall = {
        agent: branch.agent,
        start,
        signal,
        timeoutMs: Math.min(branchTimeout, call.timeoutMs),
        onDelta: (delta) => onBranchDelta(delta, branch.agent),
        ...(call.retry !== undefined ? { retry: call.retry } : {}),
      };
      return deps.invoker.invoke(branchCall);
    },
    deps.now,
  );
  if (call.signal.aborted) throw ConnectError.from(call.signal.reason);
  const joined = joinBranches(stage.name, parallel, runs);
  const ok = runs.filter((r) => r.status === "ok");
  return {
    outcome: {
      result: joined.result,
      instance: "",
      attempts: runs.reduce((n, r) => n + (r.outcome?.attempts ?? 1), 0),
      latencyMs: deps.now().getTime() - started,
      breaker: "",
    },
    branches: joined.branches,
    branchAgents: ok.map((r) => r.branch.agent),
    runs,
  };
}
