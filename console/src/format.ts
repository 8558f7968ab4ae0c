import { ConnectError } from "@connectrpc/connect";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { SessionStatus } from "../../src/gen/switchboard/v1/session_pb.js";

/**
 * statusLabel names a session status the way the console shows it.
 */
export function statusLabel(status: SessionStatus): string {
  switch (status) {
    case SessionStatus.ACTIVE:
      return "active";
    case SessionStatus.WAITING:
      return "waiting";
    case SessionStatus.COMPLETED:
      return "completed";
    case SessionStatus.FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

/**
 * timeLabel shows a timestamp in the browser's locale, or a dash.
 */
export function timeLabel(t: Timestamp | undefined): string {
  if (t === undefined) return "—";
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)).toLocaleString();
}

/**
 * durationLabel shows a duration in milliseconds, or a dash.
 */
export function durationLabel(d: Duration | undefined): string {
  if (d === undefined) return "—";
  const ms = Number(d.seconds) * 1000 + d.nanos / 1e6;
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

/**
 * errorText is what the console shows for a failed call: the server's
 * message, which says what to fix, with the code's name.
 */
export function errorText(e: unknown): string {
  const err = ConnectError.from(e);
  return `${codeName(err.code)}: ${err.rawMessage}`;
}

const codeNames = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
];

function codeName(code: number): string {
  return codeNames[code] ?? String(code);
}
