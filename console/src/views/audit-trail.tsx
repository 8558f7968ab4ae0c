import { type Step, StepKind, StepStatus } from "../../../src/gen/switchboard/v1/session_pb.js";
import { durationLabel, timeLabel } from "../format.js";

const kinds: Record<StepKind, string> = {
  [StepKind.UNSPECIFIED]: "—",
  [StepKind.TURN]: "turn",
  [StepKind.ROLLBACK]: "rollback",
  [StepKind.FORK]: "fork",
  [StepKind.COMPENSATION]: "compensation",
  [StepKind.BRANCH]: "branch",
  [StepKind.INTERRUPTION]: "interruption",
  [StepKind.MIGRATION]: "migration",
};

const statuses: Record<StepStatus, string> = {
  [StepStatus.UNSPECIFIED]: "—",
  [StepStatus.OK]: "ok",
  [StepStatus.FAILED]: "failed",
  [StepStatus.INTERRUPTED]: "interrupted",
};

/**
 * AuditTrail shows a session's steps, oldest first, each with who served
 * it and how: agent, instance, attempts, latency, breaker, error, and the
 * step's details (rollback target, branch, heard characters).
 */
export function AuditTrail({ steps }: { steps: Step[] }) {
  if (steps.length === 0) return <p class="empty">No steps yet.</p>;
  return (
    <div class="scroll">
      <table data-testid="steps">
        <caption class="visually-hidden">Audit trail</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Kind</th>
            <th scope="col">Stage</th>
            <th scope="col">Intent</th>
            <th scope="col">Agent</th>
            <th scope="col">Instance</th>
            <th scope="col">Attempts</th>
            <th scope="col">Latency</th>
            <th scope="col">Breaker</th>
            <th scope="col">Status</th>
            <th scope="col">Next stage</th>
            <th scope="col">Error</th>
            <th scope="col">Details</th>
            <th scope="col">Started</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((s) => (
            <tr data-step={s.id}>
              <td>{String(s.version)}</td>
              <td>{kinds[s.kind]}</td>
              <td>{s.stage}</td>
              <td>{s.intent || "—"}</td>
              <td>{s.agent || "—"}</td>
              <td>{s.instance || "—"}</td>
              <td>{s.attempts}</td>
              <td>{durationLabel(s.latency)}</td>
              <td>{s.breaker || "—"}</td>
              <td>{statuses[s.status]}</td>
              <td>{s.nextStage || "—"}</td>
              <td>{s.error ? `${s.error.code}: ${s.error.message}` : "—"}</td>
              <td>
                {Object.entries(s.details)
                  .filter(([k]) => !k.startsWith("seq_"))
                  .map(([k, v]) => `${k}=${v}`)
                  .join(", ") || "—"}
              </td>
              <td>{timeLabel(s.startTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
