import { Code, ConnectError } from "@connectrpc/connect";
import type { Session } from "../gen/switchboard/v1/session_pb.js";

/**
 * defaultMaxStateBytes bounds a session's state unless configured otherwise.
 */
export const defaultMaxStateBytes = 256 * 1024;

/**
 * defaultMaxSessionVersions bounds a session's length unless configured otherwise.
 */
export const defaultMaxSessionVersions = 10_000;

/**
 * defaultMaxOutputChars bounds the reply text one turn may stream.
 */
export const defaultMaxOutputChars = 1 << 20;

const utf8 = new TextEncoder();

/**
 * checkStateSize refuses a state larger than the limit, before anything is
 * committed, with an error that says how large it got.
 */
export function checkStateSize(session: Session, limit: number): void {
  const bytes = utf8.encode(JSON.stringify(session.state ?? {})).length;
  if (bytes > limit) {
    throw new ConnectError(
      `the session state would grow to ${bytes} bytes, above the limit of ${limit}; the agent's state patch was not applied`,
      Code.ResourceExhausted,
    );
  }
}

/**
 * checkSessionLength refuses a turn on a session that has as many versions
 * as a session may have.
 */
export function checkSessionLength(session: Session | undefined, limit: number): void {
  if (session !== undefined && session.version >= BigInt(limit)) {
    throw new ConnectError(
      `session ${session.id} has reached ${session.version} versions, the most a session may have; start a new session (or fork this one)`,
      Code.ResourceExhausted,
    );
  }
}
