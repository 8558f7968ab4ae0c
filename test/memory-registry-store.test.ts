import { MemoryRegistryStore } from "../src/store/memory-registry-store.js";
import { registryStoreContract } from "./support/registry-store-contract.js";

registryStoreContract("memory", async () => new MemoryRegistryStore());
