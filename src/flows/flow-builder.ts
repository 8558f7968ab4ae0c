import { clone, create, type JsonObject } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  CheckSchema,
  FailurePolicy,
  type Flow,
  FlowOutcomesSchema,
  FlowSchema,
  Join,
  Merge,
  MigrationSchema,
  type Stage,
  StageSchema,
} from "../gen/switchboard/v1/flow_pb.js";
import { validateFlow } from "../core/flow.js";

/**
 * FlowBuildError lists every problem of a flow built in code.
 */
export class FlowBuildError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid flow:\n  ${problems.join("\n  ")}`);
  }
}

/**
 * ParallelOptions configure a parallel stage built in code.
 */
export interface ParallelOptions {
  /** "all" (default), "any", or a number: at least that many branches. */
  join?: "all" | "any" | number;
  /** How branches' state patches merge: "disjoint" (default), "by_branch", "last_wins". */
  merge?: "disjoint" | "by_branch" | "last_wins";
  /** How long each branch may take, in milliseconds. */
  branchTimeoutMs?: number;
  /** "tolerate" (default) or "fail_fast". */
  onBranchFailure?: "tolerate" | "fail_fast";
}

/**
 * StageBuilder configures one stage; every method returns the builder.
 */
export class StageBuilder {
  /** @private */
  constructor(readonly stage: Stage) {}

  /** describe sets what the stage is for. */
  describe(text: string): this {
    this.stage.description = text;
    return this;
  }

  /** agent sets the agent that serves the stage. */
  agent(name: string): this {
    this.stage.agent = name;
    return this;
  }

  /** route sends intents to their own agents: `{ refund: "refunds" }`. */
  route(intentAgents: Record<string, string>): this {
    Object.assign(this.stage.intentAgents, intentAgents);
    return this;
  }

  /** allow limits the stage to these intents. */
  allow(...intents: string[]): this {
    this.stage.allowedIntents.push(...intents);
    return this;
  }

  /** fallback sets the agent for intents without an agent of their own. */
  fallback(agent: string): this {
    this.stage.fallbackAgent = agent;
    return this;
  }

  /** onEvent routes an event type like an intent. */
  onEvent(eventType: string, intent: string): this {
    this.stage.eventIntents[eventType] = intent;
    return this;
  }

  /** timeout bounds the agent's time per turn. */
  timeout(ms: number): this {
    this.stage.timeout = durationFromMs(ms);
    return this;
  }

  /** retry retries failed agent calls. */
  retry(maxAttempts: number, initialBackoffMs?: number, maxBackoffMs?: number): this {
    this.stage.retry = {
      $typeName: "switchboard.v1.RetryPolicy",
      maxAttempts,
      ...(initialBackoffMs !== undefined ? { initialBackoff: durationFromMs(initialBackoffMs) } : {}),
      ...(maxBackoffMs !== undefined ? { maxBackoff: durationFromMs(maxBackoffMs) } : {}),
    };
    return this;
  }

  /** to adds a transition to a stage, taken when the CEL condition holds (always without one). */
  to(stage: string, when = ""): this {
    this.stage.transitions.push({ $typeName: "switchboard.v1.Transition", to: stage, when, back: false });
    return this;
  }

  /** back adds a transition back to the previous stage. */
  back(when = ""): this {
    this.stage.transitions.push({ $typeName: "switchboard.v1.Transition", to: "", when, back: true });
    return this;
  }

  /** precondition adds a CEL check that must hold before the stage runs. */
  precondition(name: string, expr: string, message = ""): this {
    this.stage.preconditions.push(create(CheckSchema, { name, expr, message }));
    return this;
  }

  /** postcondition adds a CEL check the agent's result must pass. */
  postcondition(name: string, expr: string, message = ""): this {
    this.stage.postconditions.push(create(CheckSchema, { name, expr, message }));
    return this;
  }

  /** parallel serves the stage with several agents at once: `{ branch: agent }`. */
  parallel(branches: Record<string, string>, opts: ParallelOptions = {}): this {
    const join = opts.join ?? "all";
    this.stage.parallel = {
      $typeName: "switchboard.v1.Parallel",
      branches: Object.entries(branches).map(([name, agent]) => ({ $typeName: "switchboard.v1.Branch", name, agent })),
      join: join === "all" ? Join.ALL : join === "any" ? Join.ANY : Join.AT_LEAST,
      minSuccesses: typeof join === "number" ? join : 0,
      ...(opts.branchTimeoutMs !== undefined ? { branchTimeout: durationFromMs(opts.branchTimeoutMs) } : {}),
      merge: opts.merge === "by_branch" ? Merge.BY_BRANCH : opts.merge === "last_wins" ? Merge.LAST_WINS : Merge.DISJOINT,
      failurePolicy: opts.onBranchFailure === "fail_fast" ? FailurePolicy.FAIL_FAST : FailurePolicy.TOLERATE,
    };
    return this;
  }

  /** compensate declares the call that undoes the stage (saga); no agent calls the one that served it. */
  compensate(intent: string, agent = ""): this {
    this.stage.compensation = { $typeName: "switchboard.v1.Compensation", agent, intent };
    return this;
  }

  /** onFailure makes a terminal failure of the stage commit: compensate, then go to a stage or end. */
  onFailure(opts: { compensate?: boolean; to?: string }): this {
    this.stage.onFailure = { $typeName: "switchboard.v1.OnFailure", compensate: opts.compensate ?? false, to: opts.to ?? "" };
    return this;
  }

  /** autoContinue runs the next stage in the same turn. */
  autoContinue(): this {
    this.stage.autoContinue = true;
    return this;
  }

  /** maxVisits bounds loops through the stage, going to `onMax` past the bound. */
  maxVisits(n: number, onMax = ""): this {
    this.stage.maxVisits = n;
    this.stage.onMaxVisits = onMax;
    return this;
  }

  /** waitFor makes the session wait for input on entering the stage. */
  waitFor(reason: string): this {
    this.stage.waitReason = reason;
    return this;
  }

  /** terminal ends the conversation once the stage has run. */
  terminal(): this {
    this.stage.terminal = true;
    return this;
  }
}

/**
 * FlowBuilder builds a flow in TypeScript, the same switchboard.v1.Flow a
 * YAML or JSON file describes.
 *
 * ```ts
 * const flow = new FlowBuilder("support", "1");
 * flow.stage("greeting").agent("greeter").to("help");
 * flow.stage("help").agent("helper").to("help");
 * const built = flow.build(); // validated like a flow file
 * ```
 */
export class FlowBuilder {
  private readonly flow: Flow;

  constructor(id: string, version: string) {
    this.flow = create(FlowSchema, { id, version });
  }

  /** describe sets what the flow is for. */
  describe(text: string): this {
    this.flow.description = text;
    return this;
  }

  /** initial sets the stage new sessions start in (default: the first). */
  initial(stage: string): this {
    this.flow.initialStage = stage;
    return this;
  }

  /** maxChain bounds the stages one turn may chain through. */
  maxChain(n: number): this {
    this.flow.maxChain = n;
    return this;
  }

  /** stateKeys declares the state keys CEL may read. */
  stateKeys(...keys: string[]): this {
    this.flow.stateKeys.push(...keys);
    return this;
  }

  /** invariant adds a CEL check on the state after every turn. */
  invariant(name: string, expr: string, message = ""): this {
    this.flow.invariants.push(create(CheckSchema, { name, expr, message }));
    return this;
  }

  /**
   * migration declares how sessions of an earlier version `from` move onto
   * this one: `stages` maps old stages to new ones; `rename`, `remove`,
   * `defaults` and `set` (key -> CEL over `state` and `session`) change
   * the state, in that order.
   */
  migration(
    from: string,
    opts: { stages?: Record<string, string>; rename?: Record<string, string>; remove?: string[]; defaults?: JsonObject; set?: Record<string, string> } = {},
  ): this {
    this.flow.migrations.push(
      create(MigrationSchema, {
        from,
        stages: opts.stages ?? {},
        state: { rename: opts.rename ?? {}, remove: opts.remove ?? [], defaults: opts.defaults ?? {}, set: opts.set ?? {} },
      }),
    );
    return this;
  }

  /**
   * outcomes declares the stages that count as a hand-off to a human and,
   * optionally, those a contained session passes through
   * (docs/rollouts.md).
   */
  outcomes(handOffStages: string[], containedStages: string[] = []): this {
    this.flow.outcomes = create(FlowOutcomesSchema, { handOffStages, containedStages });
    return this;
  }

  /** stage adds a stage and returns its builder. */
  stage(name: string): StageBuilder {
    const stage = create(StageSchema, { name });
    this.flow.stages.push(stage);
    return new StageBuilder(stage);
  }

  /**
   * build validates the flow as a flow file would be (with `knownAgents`,
   * also its agents) and returns it, or throws FlowBuildError with every
   * problem.
   */
  build(knownAgents?: (name: string) => boolean): Flow {
    const problems = validateFlow(this.flow, knownAgents);
    if (problems.length > 0) {
      throw new FlowBuildError(problems.map((p) => `${p.stage ? `stage ${p.stage}` : "flow"}: ${p.message}`));
    }
    // A copy: flows are immutable once built (their CEL is compiled once).
    return clone(FlowSchema, this.flow);
  }
}
