import { BreakerState, InstanceHealth } from "../../../src/gen/switchboard/v1/registry_pb.js";
import type { Api } from "../api.js";
import { durationLabel, timeLabel } from "../format.js";
import { usePolled } from "../hooks.js";

const health: Record<InstanceHealth, string> = {
  [InstanceHealth.UNSPECIFIED]: "not checked yet",
  [InstanceHealth.SERVING]: "serving",
  [InstanceHealth.NOT_SERVING]: "not serving",
  [InstanceHealth.EJECTED]: "ejected",
};

const breaker: Record<BreakerState, string> = {
  [BreakerState.UNSPECIFIED]: "—",
  [BreakerState.CLOSED]: "closed",
  [BreakerState.OPEN]: "open",
  [BreakerState.HALF_OPEN]: "half open",
};

/**
 * AgentsView lists every agent instance this replica knows, with its
 * health, breaker state, turns in flight and recent latency, as
 * RegistryService.ListAgents reports them; it refreshes every two seconds.
 */
export function AgentsView({ api }: { api: Api }) {
  const [agents] = usePolled(async () => (await api.registry.listAgents({})).instances, [api], 2000);
  return (
    <section aria-labelledby="agents-title">
      <h2 id="agents-title">Agents</h2>
      <p>Health, breaker state, turns in flight and latency are as this orchestrator replica sees them.</p>
      {agents.state === "loading" && <p>Loading…</p>}
      {agents.state === "error" && <p role="alert" class="error">{agents.message}</p>}
      {agents.state === "ok" && (
        <div class="scroll">
          <table data-testid="agents">
            <caption class="visually-hidden">Agent instances</caption>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Version</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Source</th>
                <th scope="col">Health</th>
                <th scope="col">Breaker</th>
                <th scope="col">Turns in flight</th>
                <th scope="col">Median latency</th>
                <th scope="col">Lease until</th>
              </tr>
            </thead>
            <tbody>
              {[...agents.value]
                .sort((a, b) => (a.card?.name ?? "").localeCompare(b.card?.name ?? "") || a.endpoint.localeCompare(b.endpoint))
                .map((i) => (
                  <tr data-agent={i.card?.name ?? ""}>
                    <th scope="row">{i.card?.name ?? i.instanceId}</th>
                    <td>{i.card?.version || "—"}</td>
                    <td>
                      <code>{i.endpoint}</code>
                    </td>
                    <td>{i.source}</td>
                    <td>
                      <span class={`health health-${InstanceHealth[i.health].toLowerCase()}`}>{health[i.health]}</span>
                    </td>
                    <td>{breaker[i.breaker]}</td>
                    <td>{i.inFlight}</td>
                    <td>{durationLabel(i.recentLatency)}</td>
                    <td>{i.leaseExpireTime === undefined ? "static" : timeLabel(i.leaseExpireTime)}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
