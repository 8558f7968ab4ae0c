import { randomBytes } from "node:crypto";
import { afterAll, inject } from "vitest";
import { MongoRegistryStore } from "../src/store/mongo-registry-store.js";
import { MongoStore } from "../src/store/mongo-store.js";
import { registryReplicaSuite } from "./support/registry-replicas.js";
import { registryStoreContract } from "./support/registry-store-contract.js";

const uri = inject("mongoUri");
const database = `switchboard_registry_${randomBytes(4).toString("hex")}`;
const opened: Array<{ close(): Promise<void> }> = [];

registryStoreContract("mongodb", async () => {
  const store = new MongoRegistryStore({ uri, database });
  opened.push(store);
  return store;
});

// Each replica has its own connections to the one database, as two
// orchestrator processes would.
registryReplicaSuite("MongoDB", async () => {
  const registryStore = new MongoRegistryStore({ uri, database });
  const store = await MongoStore.open({ uri, database, sweepIntervalMs: 0 });
  opened.push(registryStore, store);
  return { registryStore, store };
});

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
});
