import { systemClock } from "../src/core/ports.js";
import { MemoryStore } from "../src/store/memory-store.js";
import { storeContract } from "./support/store-contract.js";

storeContract("memory", async () => {
  let offset = 0;
  const clock = { now: () => new Date(Date.now() + offset), sleep: systemClock.sleep, advance: (ms: number) => void (offset += ms) };
  return { store: new MemoryStore(clock), clock };
});
