import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Binary, type Collection } from "mongodb";
import { AgentCardSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { Registration, RegistryStore } from "../mesh/registry-store.js";
import { databaseOfTarget, type MongoTarget } from "./mongo-client.js";
import { guard } from "./mongo-errors.js";

/**
 * RegistrationDoc is one registration in the `agent_registrations`
 * collection, keyed by instance id. The card is Protobuf binary; the
 * times are epoch milliseconds, kept as numbers so they round-trip exactly.
 */
interface RegistrationDoc {
  _id: string;
  name: string;
  endpoint: string;
  card: Binary;
  leaseMs: number;
  expiresAt: number;
  registeredAt: number;
}

/**
 * MongoRegistryStoreOptions configure a MongoRegistryStore.
 */
export type MongoRegistryStoreOptions = MongoTarget;

/**
 * MongoRegistryStore keeps agent registrations in MongoDB, so every
 * orchestrator replica sharing the database routes to every registered
 * agent. Each operation is one single-document write: no transactions.
 * (On FerretDB, whose conditional updates are not atomic, a renewal racing
 * the very moment a lease runs out may still extend it; the lease then
 * simply lasts one more period.)
 */
export class MongoRegistryStore implements RegistryStore {
  private readonly release: () => Promise<void>;
  private readonly registrations: Collection<RegistrationDoc>;
  private ready: Promise<void> | undefined;

  constructor(opts: MongoRegistryStoreOptions) {
    const { db, close } = databaseOfTarget(opts, "switchboard-registry");
    this.release = close;
    this.registrations = db.collection<RegistrationDoc>("agent_registrations");
  }

  /** indexes creates the index the sweep uses, once (retried after a failure). */
  private indexes(): Promise<void> {
    this.ready ??= guard("creating the registry's indexes", async () => {
      await this.registrations.createIndex({ expiresAt: 1 }, { name: "expires" });
    }).catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  async put(r: Registration): Promise<void> {
    await this.indexes();
    await guard("registering the agent", () =>
      this.registrations.replaceOne({ _id: r.instanceId }, toDoc(r), { upsert: true }),
    );
  }

  async get(instanceId: string, now: number): Promise<Registration | undefined> {
    const doc = await guard("reading the registration", () =>
      this.registrations.findOne({ _id: instanceId, expiresAt: { $gt: now } }),
    );
    return doc === null ? undefined : fromDoc(doc);
  }

  async renew(instanceId: string, expiresAt: number, now: number): Promise<Registration | undefined> {
    const doc = await guard("renewing the lease", () =>
      this.registrations.findOneAndUpdate(
        { _id: instanceId, expiresAt: { $gt: now } },
        { $set: { expiresAt } },
        { returnDocument: "after" },
      ),
    );
    return doc === null ? undefined : fromDoc(doc);
  }

  async remove(instanceId: string): Promise<boolean> {
    const res = await guard("deregistering the agent", () => this.registrations.deleteOne({ _id: instanceId }));
    return res.deletedCount === 1;
  }

  async listLive(now: number, limit: number): Promise<Registration[]> {
    const docs = await guard("listing registrations", () =>
      this.registrations.find({ expiresAt: { $gt: now } }).sort({ _id: 1 }).limit(limit).toArray(),
    );
    return docs.map(fromDoc);
  }

  async sweep(now: number): Promise<number> {
    await this.indexes();
    const res = await guard("sweeping expired registrations", () =>
      this.registrations.deleteMany({ expiresAt: { $lte: now } }),
    );
    return res.deletedCount;
  }

  async close(): Promise<void> {
    await this.release();
  }
}

function toDoc(r: Registration): Omit<RegistrationDoc, "_id"> {
  return {
    name: r.card.name,
    endpoint: r.endpoint,
    card: new Binary(toBinary(AgentCardSchema, r.card)),
    leaseMs: r.leaseMs,
    expiresAt: r.expiresAt,
    registeredAt: r.registeredAt,
  };
}

function fromDoc(d: RegistrationDoc): Registration {
  return {
    instanceId: d._id,
    card: fromBinary(AgentCardSchema, d.card.buffer),
    endpoint: d.endpoint,
    leaseMs: d.leaseMs,
    expiresAt: d.expiresAt,
    registeredAt: d.registeredAt,
  };
}
