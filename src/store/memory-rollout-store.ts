import { clone } from "@bufbuild/protobuf";
import { type Rollout, type RolloutChange, RolloutChangeSchema, RolloutSchema } from "../gen/switchboard/v1/rollout_pb.js";
import { aborted } from "../core/errors.js";
import type { RolloutStore } from "../core/rollout-store.js";

/**
 * MemoryRolloutStore is the embedded RolloutStore: one replica's rollouts
 * and their audit trail, lost when the process exits.
 */
export class MemoryRolloutStore implements RolloutStore {
  private readonly flows = new Map<string, { rollout: Rollout; changes: RolloutChange[] }>();

  async list(): Promise<Rollout[]> {
    return [...this.flows.values()].map((f) => clone(RolloutSchema, f.rollout));
  }

  async get(flowId: string): Promise<Rollout | undefined> {
    const f = this.flows.get(flowId);
    return f && clone(RolloutSchema, f.rollout);
  }

  async change(change: RolloutChange): Promise<void> {
    const f = this.flows.get(change.flowId);
    const current = f?.rollout.revision ?? 0n;
    if (current !== change.revision - 1n || change.to === undefined) {
      throw aborted(`the rollout of flow ${change.flowId} changed meanwhile (now at revision ${current}); read it again and retry`);
    }
    const entry = f ?? { rollout: change.to, changes: [] };
    entry.rollout = clone(RolloutSchema, change.to);
    entry.changes.push(clone(RolloutChangeSchema, change));
    this.flows.set(change.flowId, entry);
  }

  async changes(flowId: string, limit: number): Promise<RolloutChange[]> {
    const all = this.flows.get(flowId)?.changes ?? [];
    return all
      .slice(-limit)
      .reverse()
      .map((c) => clone(RolloutChangeSchema, c));
  }

  async close(): Promise<void> {}
}
