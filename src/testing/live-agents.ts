import { Mesh } from "../mesh/mesh.js";
import { Registry, type StaticInstance } from "../mesh/registry.js";
import { MemoryRegistryStore } from "../store/memory-registry-store.js";
import type { AgentInvoker } from "../core/ports.js";

/**
 * LiveAgents calls running agent instances, as the server's mesh does.
 */
export interface LiveAgents {
  readonly invoker: AgentInvoker;
  close(): void;
}

/**
 * liveAgents builds the server's mesh (health checks, breakers, retries,
 * deadlines) over static agent instances, for the agents a case or a
 * replay does not script.
 */
export async function liveAgents(instances: StaticInstance[]): Promise<LiveAgents> {
  const registry = new Registry({ store: new MemoryRegistryStore(), statics: instances });
  await registry.start();
  const mesh = new Mesh(registry);
  return {
    invoker: mesh,
    close: () => {
      mesh.close();
      registry.stop();
    },
  };
}
