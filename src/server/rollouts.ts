import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import {
  GuardMetric,
  type Rollout,
  type RolloutChange,
  RolloutChangeSchema,
  type RolloutGuard,
  RolloutSchema,
  type VersionStats,
  type VersionWeight,
} from "../gen/switchboard/v1/rollout_pb.js";
import { aborted, failedPrecondition, invalidArgument, notFound } from "../core/errors.js";
import { type FlowStatsSource, sortedCounts, versionStatsOf } from "../core/flow-stats.js";
import { assignVersion, checkWeights, describeWeights, noRollout, rolloutKey } from "../core/rollout.js";
import { judge, weightsAfterCut, type GuardCut } from "../core/rollout-guard.js";
import type { RolloutStore } from "../core/rollout-store.js";
import type { FlowSource } from "../core/turn-context.js";
import type { Logger } from "../log.js";
import type { FlowCatalog } from "./flow-catalog.js";
import type { Metrics } from "./metrics.js";

/**
 * RolloutsOptions configure Rollouts.
 */
export interface RolloutsOptions {
  store: RolloutStore;
  catalog: FlowCatalog;
  /** Where outcomes per version are counted; none when the session store cannot. */
  stats: FlowStatsSource | undefined;
  metrics: Metrics;
  log: Logger;
  /** How often this replica reads the rollouts again, ms (default 2000). */
  refreshMs?: number;
  /** How often this replica applies the rollouts' guards, ms (default 30000; 0: never). */
  guardIntervalMs?: number;
}

/**
 * FlowOutcomeStats are a flow's outcomes per version, newest version first.
 */
export interface FlowOutcomeStats {
  versions: VersionStats[];
  handOffStages: string[];
}

/**
 * Rollouts splits each flow's new sessions between its versions by the
 * rollout stored for it, and is the FlowSource the engine reads. Every
 * replica holds the stored rollouts in memory and reads them again every
 * `refreshMs`, so a new session is assigned without a database read;
 * since the assignment is a pure function of the rollout and the session
 * (assignVersion), two replicas that hold the same revision assign every
 * session alike. A change made on this replica serves at once; other
 * replicas pick it up within `refreshMs`. Changes are compare-and-sets on
 * the flow's revision, each audited.
 */
export class Rollouts implements FlowSource {
  private served = new Map<string, Rollout>();
  private readonly missing = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly log: Logger;

  constructor(private readonly opts: RolloutsOptions) {
    this.log = opts.log;
  }

  get defaultFlowId(): string {
    return this.opts.catalog.defaultFlowId;
  }

  get(id: string, version: string): Flow | undefined {
    return this.opts.catalog.get(id, version);
  }

  forNewSession(id: string, sessionId: string, accountId: string): Flow | undefined {
    const rollout = this.served.get(id);
    if (rollout === undefined || rollout.weights.length === 0) return undefined;
    const version = assignVersion(rollout, rolloutKey(sessionId, accountId));
    if (version === undefined) return undefined;
    const flow = this.opts.catalog.get(id, version);
    if (flow === undefined && !this.missing.has(`${id}@${version}`)) {
      // Replicas should load the same flow files; this one falls back to
      // the newest version rather than refuse the session.
      this.missing.add(`${id}@${version}`);
      this.log.warn({ flow: id, version }, "the rollout names a flow version this replica has not loaded; its sessions get the newest version here");
    }
    return flow;
  }

  /**
   * start reads the rollouts and starts refreshing them and applying their
   * guards. A database that cannot be reached does not stop the start: the
   * flows serve their newest versions until the rollouts can be read.
   */
  async start(): Promise<void> {
    await this.refresh().catch((err: unknown) => this.log.warn({ err }, "rollouts could not be read; new sessions get the newest versions until they can"));
    const every = (ms: number, what: string, run: () => Promise<unknown>) => {
      if (ms <= 0) return;
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        run()
          .catch((err: unknown) => this.log.warn({ err }, what))
          .finally(() => {
            running = false;
          });
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.opts.refreshMs ?? 2000, "rollout refresh failed; assigning by the last rollouts read", () => this.refresh());
    every(this.opts.guardIntervalMs ?? 30_000, "rollout guard check failed", () => this.applyGuards());
  }

  /** stop stops the refresh and the guards. */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }

  /** refresh reads every flow's rollout again. */
  async refresh(): Promise<void> {
    this.serve(await this.opts.store.list());
  }

  private serve(rollouts: Rollout[]): void {
    const next = new Map(this.served);
    for (const r of rollouts) {
      const held = next.get(r.flowId);
      // A slow read never moves a replica back to an older revision.
      if (held === undefined || held.revision <= r.revision) next.set(r.flowId, r);
    }
    this.served = next;
    this.opts.metrics.rolloutsServed([...next.values()]);
  }

  /** servedRevision is the revision of a flow's rollout this replica assigns by (0: none). */
  servedRevision(flowId: string): bigint {
    return this.served.get(flowId)?.revision ?? 0n;
  }

  /** newestVersion is the version new sessions of a flow get without a rollout. */
  newestVersion(flowId: string): string {
    return this.opts.catalog.get(flowId, "")?.version ?? "";
  }

  /** rollout returns a flow's stored rollout (revision 0: none). */
  async rollout(flowId: string): Promise<Rollout> {
    this.knownFlow(flowId);
    return (await this.opts.store.get(flowId)) ?? noRollout(flowId);
  }

  /**
   * set validates and stores a flow's new rollout, audited as `actor`'s.
   * With `expectedRevision` non-zero, only while the rollout is still at
   * that revision.
   */
  async set(flowId: string, weights: VersionWeight[], guard: RolloutGuard | undefined, expectedRevision: bigint, actor: string): Promise<Rollout> {
    this.knownFlow(flowId);
    const loaded = this.opts.catalog.all().filter((f) => f.id === flowId).map((f) => f.version);
    const checked = checkWeights(flowId, weights, loaded);
    if (guard !== undefined) checkGuard(guard);
    const to = create(RolloutSchema, { flowId, weights: checked, ...(guard !== undefined ? { guard } : {}) });
    return this.change(flowId, to, expectedRevision, actor, "set", "");
  }

  /** clear removes a flow's rollout: new sessions get the newest version again. */
  async clear(flowId: string, actor: string): Promise<Rollout> {
    this.knownFlow(flowId);
    return this.change(flowId, create(RolloutSchema, { flowId }), 0n, actor, "clear", "");
  }

  /** changes lists a flow's audited changes, newest first. */
  async changes(flowId: string, limit: number): Promise<RolloutChange[]> {
    this.knownFlow(flowId);
    return this.opts.store.changes(flowId, limit);
  }

  private async change(flowId: string, to: Rollout, expectedRevision: bigint, actor: string, action: string, reason: string): Promise<Rollout> {
    const from = (await this.opts.store.get(flowId)) ?? noRollout(flowId);
    if (expectedRevision !== 0n && from.revision !== expectedRevision) {
      throw aborted(`the rollout of flow ${flowId} is at revision ${from.revision}, not ${expectedRevision}; read it again and decide anew`);
    }
    const now = new Date();
    const next = create(RolloutSchema, { ...to, revision: from.revision + 1n, updateTime: timestampFromDate(now), updatedBy: actor });
    const change = create(RolloutChangeSchema, { flowId, revision: next.revision, time: timestampFromDate(now), actor, action, from, to: next, reason });
    await this.opts.store.change(change);
    this.serve([next]);
    this.log.info({ flow: flowId, revision: Number(next.revision), actor, action, from: describeWeights(from), to: describeWeights(next) }, "rollout changed");
    return next;
  }

  /**
   * stats counts a flow's outcomes per version over the sessions created
   * since `since` (all stored ones when undefined), in the session store,
   * and sets the outcome gauges from them.
   */
  async stats(flowId: string, since: Date | undefined): Promise<FlowOutcomeStats> {
    const newest = this.knownFlow(flowId);
    const source = this.opts.stats;
    if (source === undefined) throw failedPrecondition("this orchestrator's session store cannot count outcomes");
    const handOffStages = [...(newest.outcomes?.handOffStages ?? [])];
    const counts = await source.flowStats({ flowId, since, handOffStages, containedStages: [...(newest.outcomes?.containedStages ?? [])] });
    const versions = sortedCounts(counts).map(versionStatsOf);
    for (const v of versions) {
      const rates = { hand_off: v.handOff, containment: v.containment, failed_turns: v.failedTurns, barge_in: v.bargeIn };
      for (const [outcome, rate] of Object.entries(rates)) this.opts.metrics.outcomeRate(flowId, v.version, outcome, rate?.value ?? 0);
    }
    return { versions, handOffStages };
  }

  /**
   * applyGuards judges every guarded rollout this replica serves on the
   * stored sessions (all of them: a rollout's guard looks at the sessions
   * of the versions it splits) and cuts a worse candidate to zero. Every
   * replica does this; the compare-and-set on the revision lets one cut
   * win, and the others find the rollout changed and leave it.
   */
  async applyGuards(): Promise<GuardCut[]> {
    const cuts: GuardCut[] = [];
    for (const rollout of [...this.served.values()]) {
      if (rollout.guard === undefined || rollout.weights.filter((w) => w.weight > 0).length < 2) continue;
      if (this.opts.catalog.get(rollout.flowId, "") === undefined) continue;
      const { versions } = await this.stats(rollout.flowId, undefined);
      const cut = judge(rollout, versions);
      if (cut === undefined) continue;
      const to = create(RolloutSchema, { flowId: rollout.flowId, weights: weightsAfterCut(rollout, cut), ...(rollout.guard ? { guard: rollout.guard } : {}) });
      try {
        await this.change(rollout.flowId, to, rollout.revision, "guard", "guard", cut.reason);
      } catch (e) {
        // Another replica's guard, or an operator, changed it first.
        if (ConnectError.from(e).code === Code.Aborted) continue;
        throw e;
      }
      this.opts.metrics.guardCut(rollout.flowId, cut.version);
      this.log.warn({ flow: rollout.flowId, version: cut.version, baseline: cut.baseline, reason: cut.reason }, "rollout guard cut a version to zero");
      cuts.push(cut);
    }
    return cuts;
  }

  /** knownFlow returns a flow's newest loaded version, or throws NOT_FOUND. */
  private knownFlow(flowId: string): Flow {
    const flow = this.opts.catalog.get(flowId, "");
    if (flow === undefined) throw notFound(`flow ${JSON.stringify(flowId)}`);
    return flow;
  }
}

/**
 * checkGuard validates a rollout's guard.
 */
function checkGuard(guard: RolloutGuard): void {
  if (guard.metric === GuardMetric.UNSPECIFIED || GuardMetric[guard.metric] === undefined) {
    throw invalidArgument("guard.metric", "set GUARD_METRIC_FAILED_TURN_RATE or GUARD_METRIC_HAND_OFF_RATE");
  }
  if (!(guard.margin >= 0 && guard.margin < 1)) throw invalidArgument("guard.margin", `${guard.margin} is not a fraction from 0 to below 1 (0.05 is 5 points)`);
  if (!(guard.minSessions >= 1)) throw invalidArgument("guard.min_sessions", "must be at least 1: the sessions each version needs before the guard judges it");
}
