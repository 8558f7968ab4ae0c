import type { Rollout, RolloutChange } from "../gen/switchboard/v1/rollout_pb.js";

/**
 * RolloutStore keeps each flow's rollout and the audit trail of its
 * changes where every replica reads them: the process's memory for one
 * replica (memory-rollout-store.ts), MongoDB for many
 * (mongo-rollout-store.ts). A change is a compare-and-set on the flow's
 * revision, so two writers (an operator and a replica's guard, or two
 * replicas' guards) never both win, and the audit record and the rollout
 * it made are written as one change.
 */
export interface RolloutStore {
  /** list returns the current rollout of every flow that ever had one (a cleared one has no weights). */
  list(): Promise<Rollout[]>;
  /** get returns a flow's current rollout; undefined when it never had one. */
  get(flowId: string): Promise<Rollout | undefined>;
  /**
   * change records `change` and makes `change.to` (at revision
   * `change.revision`) the flow's rollout, but only when the flow's
   * current revision is `change.revision - 1` (0: none yet); otherwise it
   * throws ABORTED and changes nothing.
   */
  change(change: RolloutChange): Promise<void>;
  /** changes lists a flow's changes, newest first, at most `limit`. */
  changes(flowId: string, limit: number): Promise<RolloutChange[]>;
  /** close releases the store's resources. */
  close(): Promise<void>;
}
