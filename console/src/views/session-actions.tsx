import { useState } from "preact/hooks";
import type { Flow, Stage } from "../../../src/gen/switchboard/v1/flow_pb.js";
import { type Session, SessionStatus, type Snapshot } from "../../../src/gen/switchboard/v1/session_pb.js";
import type { Api } from "../api.js";
import { ConfirmButton, type Outcome, OutcomeText } from "../confirm-button.js";
import { statusLabel } from "../format.js";
import { hrefOf, navigate } from "../route.js";

/**
 * AnswerChoice is one way to answer a waiting stage: an event its flow
 * routes (`approval.granted` → approve), sent as a turn.
 */
interface AnswerChoice {
  event: string;
  intent: string;
  label: string;
}

/**
 * answerChoices reads from the waiting stage how it is answered: each
 * event it routes to an intent is a button ("Approve", "Deny").
 */
export function answerChoices(stage: Stage | undefined): AnswerChoice[] {
  if (stage === undefined) return [];
  return Object.entries(stage.eventIntents).map(([event, intent]) => ({ event, intent, label: labelOf(intent, event) }));
}

function doneLabel(c: AnswerChoice): string {
  return c.label === "Approve" ? "Approved" : c.label === "Deny" ? "Denied" : `Sent ${c.event}`;
}

function labelOf(intent: string, event: string): string {
  if (/^(approve|approved|grant|granted|accept)$/i.test(intent)) return "Approve";
  if (/^(reject|rejected|deny|denied|decline)$/i.test(intent)) return "Deny";
  return `Send ${event}`;
}

/**
 * requiredPermissions finds the permissions a stage's preconditions ask
 * of the caller (`'refunds.approve' in permissions`): the answer carries
 * them in its metadata, as a supervisor's gateway would.
 */
export function requiredPermissions(stage: Stage | undefined): string[] {
  const found = new Set<string>();
  for (const check of stage?.preconditions ?? []) {
    for (const m of check.expr.matchAll(/['"]([^'"]+)['"]\s+in\s+permissions/g)) found.add(m[1] as string);
  }
  return [...found];
}

/**
 * SessionActions are what an operator can do to a session — answer it
 * while it waits, roll it back, fork it, delete it — each asking to confirm.
 */
export function SessionActions({ api, session, flow, snapshots, onChange }: { api: Api; session: Session; flow: Flow | undefined; snapshots: Snapshot[]; onChange: () => void }) {
  const waitingStage = flow?.stages.find((s) => s.name === (session.waiting?.stage || session.stage));
  const choices = answerChoices(waitingStage);
  const permissions = requiredPermissions(waitingStage);
  const [actor, setActor] = useState("console");
  const [reply, setReply] = useState("");
  const earlier = snapshots.filter((s) => s.version < session.version);
  const [target, setTarget] = useState("");
  const rollbackTo = target !== "" ? BigInt(target) : earlier[earlier.length - 1]?.version;
  const [forkId, setForkId] = useState("");
  // An answer ends the wait, and with it the buttons that gave it: its
  // outcome is kept here, shown while the view stays on this session.
  const [answered, setAnswered] = useState<(Outcome & { sessionId: string }) | undefined>(undefined);
  const answerOutcome = answered?.sessionId === session.id ? answered : undefined;
  const keepAnswer = (o: Outcome) => setAnswered({ ...o, sessionId: session.id });
  const waiting = session.status === SessionStatus.WAITING;
  const answer = async (input: { text?: string; event?: { type: string } }, what: string) => {
    const res = await api.orchestrator.sendTurn({
      sessionId: session.id,
      input: { ...input, metadata: { actor, ...(permissions.length > 0 ? { permissions: permissions.join(",") } : {}) } },
    });
    onChange();
    const after = res.session;
    return `${what}: the session is ${after ? statusLabel(after.status) : "updated"} at stage ${res.nextStage} (version ${after ? String(after.version) : "?"}).`;
  };
  return (
    <div class="actions">
      {!waiting && answerOutcome !== undefined && (
        <section aria-labelledby="answer-title" class="panel answer">
          <h3 id="answer-title">Answered</h3>
          <p>
            <OutcomeText outcome={answerOutcome} />
          </p>
        </section>
      )}
      {waiting && (
        <section aria-labelledby="answer-title" class="panel answer">
          <h3 id="answer-title">Answer the waiting session</h3>
          <p>
            Waiting at <strong>{session.waiting?.stage || session.stage}</strong> for: {session.waiting?.reason}
          </p>
          <label>
            Answer as
            <input value={actor} onInput={(e) => setActor(e.currentTarget.value)} />
          </label>
          {permissions.length > 0 && (
            <p class="hint">
              The answer carries the permission{permissions.length > 1 ? "s" : ""} the stage requires: <code>{permissions.join(", ")}</code>.
            </p>
          )}
          <div class="buttons">
            {choices.map((c) => (
              <ConfirmButton label={c.label} question={`${c.label} session ${session.id}?`} danger={c.label === "Deny"} onConfirm={() => answer({ event: { type: c.event } }, doneLabel(c))} onOutcome={keepAnswer}>
                <p>
                  Sends the event <code>{c.event}</code> (intent <code>{c.intent}</code>) as {actor}.
                </p>
              </ConfirmButton>
            ))}
          </div>
          <label>
            Reply to the caller
            <input value={reply} onInput={(e) => setReply(e.currentTarget.value)} />
          </label>
          <ConfirmButton label="Send reply" disabled={reply.trim() === ""} question={`Send this reply as a turn of ${session.id}?`} onConfirm={() => answer({ text: reply }, "Sent")} onOutcome={keepAnswer}>
            <p>{reply}</p>
          </ConfirmButton>
          {answerOutcome !== undefined && (
            <p>
              <OutcomeText outcome={answerOutcome} />
            </p>
          )}
        </section>
      )}
      <section aria-labelledby="operate-title" class="panel">
        <h3 id="operate-title">Operate</h3>
        <div class="buttons">
          <label>
            Roll back to
            <select value={rollbackTo === undefined ? "" : String(rollbackTo)} disabled={earlier.length === 0} onChange={(e) => setTarget(e.currentTarget.value)}>
              {earlier.map((s) => (
                <option value={String(s.version)}>version {String(s.version)}</option>
              ))}
            </select>
          </label>
          <ConfirmButton
            label="Roll back"
            disabled={rollbackTo === undefined}
            question={`Roll ${session.id} back to version ${String(rollbackTo)}?`}
            onConfirm={async () => {
              const res = await api.orchestrator.rollbackSession({ sessionId: session.id, version: rollbackTo ?? 0n });
              onChange();
              return `Rolled back: version ${String(res.session?.version)} equals version ${String(rollbackTo)}.`;
            }}
          >
            <p>A new version equal to version {String(rollbackTo)} is committed; the audit trail keeps every version.</p>
          </ConfirmButton>
        </div>
        <div class="buttons">
          <label>
            New session id (empty: generated)
            <input value={forkId} onInput={(e) => setForkId(e.currentTarget.value)} />
          </label>
          <ConfirmButton
            label="Fork"
            question={`Fork ${session.id} at version ${String(session.version)}?`}
            onConfirm={async () => {
              const res = await api.orchestrator.forkSession({ sessionId: session.id, newSessionId: forkId });
              const id = res.session?.id ?? "";
              navigate(hrefOf({ view: "session", id }));
              return `Forked as ${id}.`;
            }}
          >
            <p>A new session starts from this version; this one is not changed.</p>
          </ConfirmButton>
        </div>
        <div class="buttons">
          <ConfirmButton
            label="Delete"
            danger
            question={`Delete ${session.id} with all its versions and steps?`}
            onConfirm={async () => {
              await api.orchestrator.deleteSession({ sessionId: session.id });
              navigate(hrefOf({ view: "sessions" }));
              return "Deleted.";
            }}
          >
            <p>This cannot be undone.</p>
          </ConfirmButton>
        </div>
      </section>
    </div>
  );
}
