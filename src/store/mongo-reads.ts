import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import type { Clock } from "../core/ports.js";
import { guard } from "./mongo-errors.js";
import { KnownVersions } from "./mongo-known-versions.js";
import { type HeadDoc, resultOfVersion, type SessionCollections, type VersionDoc } from "./mongo-session-docs.js";
import { recentTurnOf } from "./mongo-turn-window.js";
import { checkKey, recordIdPrefix, versionId } from "./mongo-version-id.js";

/**
 * SessionReads reads a session's head and latest version, the reads every
 * turn starts with, keeping what it read in `known` so that the next turn
 * of the same session reads in one round trip. Only exact `_id` lookups:
 * they stay fast on every server.
 */
export class SessionReads {
  /** known is what this process last read or wrote of each recent session. */
  readonly known = new KnownVersions();

  /**
   * @param c the collections the sessions are in.
   * @param clock what "now" is, for expiry and the documents' times.
   */
  constructor(
    readonly c: SessionCollections,
    readonly clock: Clock,
  ) {}

  /** live reads the head of a session that exists and has not expired. */
  async live(sessionId: string): Promise<HeadDoc | undefined> {
    checkKey(sessionId);
    const head = await guard("reading the session", () => this.c.heads.findOne({ _id: sessionId }));
    if (head === null || head.expiresAt.getTime() <= this.clock.now().getTime()) return undefined;
    return head;
  }

  /** latestOf reads the newest version of a live session, and remembers it. */
  async latestOf(sessionId: string): Promise<VersionDoc | undefined> {
    const [head, latest] = await this.readLatest(sessionId);
    if (head === undefined || latest === undefined) {
      this.known.forget(sessionId);
      return undefined;
    }
    this.known.remember(sessionId, { inc: head.inc, version: latest.version, recentTurns: latest.recentTurns });
    return latest;
  }

  /**
   * readLatest reads a live session's head and newest version. When this
   * process knows the session's latest version (it served the last turn,
   * the usual case), that version and the next are read beside the head,
   * in one round trip instead of two; the head then confirms the guess, and
   * a wrong guess falls back to reading from the head.
   */
  private async readLatest(sessionId: string): Promise<[HeadDoc | undefined, VersionDoc | undefined]> {
    const known = this.known.get(sessionId);
    if (known === undefined || known.version < 1) {
      const head = await this.live(sessionId);
      return [head, head && (await this.latest(head))];
    }
    const prefix = recordIdPrefix(sessionId, known.inc);
    const [head, found, next] = await Promise.all([
      this.live(sessionId),
      guard("reading the session", () => this.c.versions.findOne({ _id: versionId(prefix, known.version) })),
      guard("reading the session", () => this.c.versions.findOne({ _id: versionId(prefix, known.version + 1) })),
    ]);
    if (head === undefined) return [undefined, undefined];
    // The head names the latest version or lags one commit behind it; the
    // guess stands when the head is within what was read.
    const confirmed =
      head.inc === known.inc &&
      found !== null &&
      (head.version === known.version || (head.version === known.version + 1 && next !== null));
    if (!confirmed) return [head, await this.latest(head)];
    return [head, await this.follow(prefix, known.version, found, next)];
  }

  /**
   * latest reads the newest version of a session's incarnation. The head
   * says which version that is, but may lag a commit behind (its update
   * follows the commit), so the next version ids are probed too.
   */
  async latest(head: HeadDoc): Promise<VersionDoc | undefined> {
    const prefix = recordIdPrefix(head._id, head.inc);
    const v = head.version;
    const [found, next] = await guard("reading the session", () =>
      Promise.all([
        v > 0 ? this.c.versions.findOne({ _id: versionId(prefix, v) }) : Promise.resolve(null),
        this.c.versions.findOne({ _id: versionId(prefix, v + 1) }),
      ]),
    );
    return this.follow(prefix, v, found, next);
  }

  /** follow probes the versions after `next` until one is missing, and returns the last found. */
  private async follow(prefix: string, from: number, first: VersionDoc | null, second: VersionDoc | null): Promise<VersionDoc | undefined> {
    return guard("reading the session", async () => {
      let v = from;
      let found = first;
      let next = second;
      while (next !== null) {
        found = next;
        v++;
        next = await this.c.versions.findOne({ _id: versionId(prefix, v + 1) });
      }
      return found ?? undefined;
    });
  }

  /** replayOf returns the stored result of a turn the session's latest version remembers. */
  async replayOf(sessionId: string, latest: VersionDoc, turnId: string): Promise<SendTurnResponse | undefined> {
    const seen = recentTurnOf(latest.recentTurns, turnId);
    if (seen === undefined) return undefined;
    const doc =
      seen.v === latest.version
        ? latest
        : await guard("reading the turn", () =>
            this.c.versions.findOne({ _id: versionId(recordIdPrefix(sessionId, latest.inc), seen.v) }),
          );
    return doc === null ? undefined : resultOfVersion(doc);
  }
}
