import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Binary, type Collection } from "mongodb";
import { type Rollout, type RolloutChange, RolloutChangeSchema, RolloutSchema } from "../gen/switchboard/v1/rollout_pb.js";
import { aborted } from "../core/errors.js";
import type { RolloutStore } from "../core/rollout-store.js";
import { databaseOfTarget, type MongoTarget } from "./mongo-client.js";
import { guard, isDuplicateKey } from "./mongo-errors.js";

/**
 * RolloutDoc is a flow's current rollout in `rollouts`, keyed by flow id:
 * the one small document every replica reads on each refresh.
 */
interface RolloutDoc {
  _id: string;
  revision: number;
  /** The Rollout, as Protobuf binary. */
  rollout: Binary;
}

/**
 * ChangeDoc is one audited change in `rollout_changes`. Its `_id` is the
 * flow id and the zero-padded revision, so inserting it is the
 * compare-and-set of a change (as for session versions: the unique `_id`
 * holds on every server, FerretDB included, whose conditional updates are
 * not atomic), and a flow's changes are one `_id` range.
 */
interface ChangeDoc {
  _id: string;
  flowId: string;
  revision: number;
  time: Date;
  actor: string;
  action: string;
  /** The RolloutChange, as Protobuf binary. */
  change: Binary;
}

/**
 * MongoRolloutStoreOptions configure a MongoRolloutStore.
 */
export type MongoRolloutStoreOptions = MongoTarget;

const changeId = (flowId: string, revision: bigint | number) => `${flowId}/${revision.toString().padStart(12, "0")}`;

/**
 * MongoRolloutStore keeps rollouts and their audit trail in MongoDB, so
 * every replica sharing the database splits new sessions alike. A change
 * inserts its audit record first (the compare-and-set), then moves the
 * rollout document up to it. GetRollout and every change read the newest
 * change record, so a replica stopped between the two writes loses no
 * change; the next change brings the rollout document up again.
 */
export class MongoRolloutStore implements RolloutStore {
  private readonly release: () => Promise<void>;
  private readonly rollouts: Collection<RolloutDoc>;
  private readonly changeDocs: Collection<ChangeDoc>;

  constructor(opts: MongoRolloutStoreOptions) {
    const { db, close } = databaseOfTarget(opts, "switchboard-rollouts");
    this.release = close;
    this.rollouts = db.collection<RolloutDoc>("rollouts");
    this.changeDocs = db.collection<ChangeDoc>("rollout_changes");
  }

  async list(): Promise<Rollout[]> {
    const docs = await guard("reading the rollouts", () => this.rollouts.find({}).sort({ _id: 1 }).toArray());
    return docs.map((d) => fromBinary(RolloutSchema, d.rollout.buffer));
  }

  async get(flowId: string): Promise<Rollout | undefined> {
    const [latest] = await this.changes(flowId, 1);
    return latest?.to;
  }

  async change(change: RolloutChange): Promise<void> {
    if (change.to === undefined) throw aborted(`the change of flow ${change.flowId}'s rollout names no rollout`);
    const to = change.to;
    await guard("changing the rollout", async () => {
      try {
        await this.changeDocs.insertOne({
          _id: changeId(change.flowId, change.revision),
          flowId: change.flowId,
          revision: Number(change.revision),
          time: new Date(),
          actor: change.actor,
          action: change.action,
          change: new Binary(toBinary(RolloutChangeSchema, change)),
        });
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
        throw aborted(`the rollout of flow ${change.flowId} changed meanwhile (revision ${change.revision} exists); read it again and retry`);
      }
      try {
        await this.rollouts.updateOne(
          { _id: change.flowId, revision: { $lt: Number(change.revision) } },
          { $set: { revision: Number(change.revision), rollout: new Binary(toBinary(RolloutSchema, to)) } },
          { upsert: true },
        );
      } catch (e) {
        // A newer revision's document was written first: it stands.
        if (!isDuplicateKey(e)) throw e;
      }
    });
  }

  async changes(flowId: string, limit: number): Promise<RolloutChange[]> {
    const docs = await guard("reading the rollout's changes", () =>
      this.changeDocs
        .find({ _id: { $gt: `${flowId}/`, $lt: `${flowId}/\uffff` } })
        .sort({ _id: -1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map((d) => fromBinary(RolloutChangeSchema, d.change.buffer));
  }

  async close(): Promise<void> {
    await this.release();
  }
}
