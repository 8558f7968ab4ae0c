import { type SendTurnResponse, SendTurnView, type SessionEvent } from "../gen/switchboard/v1/orchestrator_pb.js";

/**
 * sendTurnView returns a turn's result as the caller's view asks for it
 * (SendTurnRequest.view). SEND_TURN_VIEW_FULL returns the result itself;
 * the default, SEND_TURN_VIEW_BASIC, a copy whose session leaves out the
 * windows that grow with the conversation (the transcript, the completed
 * stages, the visit counts, the owed compensations and the tally). Their
 * encoding was most of a reply's bytes and of its share of the turn's CPU,
 * for gateways that read the reply, the next stage and the state.
 *
 * The result is never changed: the same object is the stored result a
 * retried turn id replays, and the session's event carries it to watchers.
 * The copy is shallow: the fields kept are shared, not cloned.
 */
export function sendTurnView(result: SendTurnResponse, view: SendTurnView): SendTurnResponse {
  const session = result.session;
  if (view === SendTurnView.FULL || session === undefined) return result;
  return {
    ...result,
    session: { ...session, history: [], completedStages: [], stageVisits: {}, compensations: [], tally: undefined },
  };
}

/**
 * eventView returns a session event as a Converse stream's view asks for
 * it (ConverseOpen.view): a `completed` or `interrupted` event with its
 * result in that view, any other event as it is. The event itself is
 * shared with the session's event log and its watchers, and never changed.
 */
export function eventView(ev: SessionEvent, view: SendTurnView): SessionEvent {
  const kind = ev.kind;
  if (view === SendTurnView.FULL || (kind.case !== "completed" && kind.case !== "interrupted")) return ev;
  const result = kind.value.result;
  if (result === undefined) return ev;
  const viewed = sendTurnView(result, view);
  if (viewed === result) return ev;
  return kind.case === "completed"
    ? { ...ev, kind: { case: "completed", value: { ...kind.value, result: viewed } } }
    : { ...ev, kind: { case: "interrupted", value: { ...kind.value, result: viewed } } };
}
