import { MemoryRegistryStore } from "../src/store/memory-registry-store.js";
import { MemoryStore } from "../src/store/memory-store.js";
import { registryReplicaSuite } from "./support/registry-replicas.js";

// Two in-process replicas sharing one in-memory "database": the same suite
// runs against a database store by passing its connections instead.
const shared = { registryStore: new MemoryRegistryStore(), store: new MemoryStore() };
registryReplicaSuite("in-memory", async () => shared);
