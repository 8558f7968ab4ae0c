import { invalidArgument } from "../core/errors.js";
import { versionKey } from "./records.js";

/*
 * The `_id` of every record of a session, in `session_versions` and
 * `session_failures` alike, is `${session}/${inc}/${key}`: the session id,
 * its incarnation, and a key that sorts in audit-trail order (a version's
 * zero-padded number, or a failed step's id, which starts with the version
 * it followed). So the records of one incarnation are one `_id` range, and
 * a version is found by `_id` alone. This file is the only place that
 * builds or takes apart such an id: existing databases depend on its shape.
 */

/**
 * recordIdPrefix is what the `_id`s of one session incarnation's records
 * start with. Callers build it once and pass it to the other helpers here.
 */
export function recordIdPrefix(sessionId: string, inc: string): string {
  return `${sessionId}/${inc}/`;
}

/**
 * versionId is the `_id` of a version document: inserting it is the
 * commit's compare-and-set (see VersionDoc).
 */
export function versionId(prefix: string, version: number): string {
  return recordId(prefix, versionKey(version));
}

/**
 * recordId is the `_id` of the record with `key` (a version key, a failed
 * step's id or a page token made of one) in an incarnation.
 */
export function recordId(prefix: string, key: string): string {
  return prefix + key;
}

/**
 * recordKeyOf takes the key back out of a record `_id` of the incarnation:
 * the page token a listing hands out.
 */
export function recordKeyOf(prefix: string, id: string): string {
  return id.slice(prefix.length);
}

/**
 * recordIdsEnd is above every record `_id` of the incarnation (keys are
 * ASCII), the upper bound of its `_id` range.
 */
export function recordIdsEnd(prefix: string): string {
  return recordId(prefix, "\uffff");
}

/**
 * keyPattern is the shape of every id the store builds keys from; the server
 * validates ids before they get here, this is the store's own guard.
 */
const keyPattern = /^[A-Za-z0-9._:~-]{1,160}$/;

/**
 * checkKey returns `value` when it may be part of a record `_id` (no "/",
 * nothing a query could read as an operator), else throws INVALID_ARGUMENT.
 */
export function checkKey(value: string): string {
  if (!keyPattern.test(value)) throw invalidArgument("id", `${JSON.stringify(value.slice(0, 40))} cannot be used as a key`);
  return value;
}
