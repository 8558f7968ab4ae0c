import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import type { Clock } from "../core/ports.js";
import { guard } from "./mongo-errors.js";
import { type KnownVersion, KnownVersions } from "./mongo-known-versions.js";
import { type HeadDoc, headFilterOf, headUpdateOf, headVersionOf, resultOfVersion, sessionOfVersion, type SessionCollections, type VersionDoc } from "./mongo-session-docs.js";
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
   * readLatest reads a live session's head and newest version. The head
   * carries its latest version's snapshot and turn window, so a turn reads
   * the head alone: its cost does not grow with the session's length. (On
   * FerretDB a read by `_id` scans the collection until it finds the
   * document, and the newest version is the last inserted one.) Version
   * documents are read only when the head does not carry its version (a
   * head written before it did), when it names an older version than this
   * process committed or a commit found it lagging, and, once per session
   * and process, to look past it in case its writer stopped between a
   * commit and the head's update.
   */
  private async readLatest(sessionId: string): Promise<[HeadDoc | undefined, VersionDoc | undefined]> {
    const head = await this.live(sessionId);
    if (head === undefined) return [undefined, undefined];
    const known = this.known.get(sessionId);
    const mine = known !== undefined && known.inc === head.inc ? known : undefined;
    const carried = headVersionOf(head);
    if (carried !== undefined && mine !== undefined && mine.headLags !== true && mine.version <= head.version) return [head, carried];
    return [head, await this.latest(head, mine)];
  }

  /**
   * latest reads the newest version of a session's incarnation: the one the
   * head names (or this process committed, when later). The versions after
   * it are probed only when this process does not know the session yet,
   * when a commit found the head lagging, or when the head names no version
   * yet (a session being created).
   */
  async latest(head: HeadDoc, known?: KnownVersion): Promise<VersionDoc | undefined> {
    const prefix = recordIdPrefix(head._id, head.inc);
    const v = Math.max(head.version, known?.version ?? 0);
    const carried = v === head.version ? headVersionOf(head) : undefined;
    const found =
      carried ?? (v > 0 ? await guard("reading the session", () => this.c.versions.findOne({ _id: versionId(prefix, v) })) : null);
    // A process that knows the session trusts the head; one that reads it
    // for the first time looks past it once.
    if (found !== null && known !== undefined && known.headLags !== true) return found;
    const next = await guard("reading the session", () => this.c.versions.findOne({ _id: versionId(prefix, v + 1) }));
    if (next === null) return found ?? undefined;
    const latest = await this.follow(prefix, v + 1, next);
    const session = sessionOfVersion(latest);
    if (session !== undefined && latest.version > head.version) {
      // Bring a lagging head up to date, so other replicas read it right.
      await guard("updating the session's head", () =>
        this.c.heads.updateOne(headFilterOf(head._id, head.inc, latest.version), headUpdateOf(session, this.clock.now(), latest)),
      ).catch(() => undefined);
    }
    return latest;
  }

  /** follow probes the versions after `from` (whose document is `first`) until one is missing, and returns the last found. */
  private async follow(prefix: string, from: number, first: VersionDoc): Promise<VersionDoc> {
    return guard("reading the session", async () => {
      let v = from;
      let found = first;
      let next = await this.c.versions.findOne({ _id: versionId(prefix, v + 1) });
      while (next !== null) {
        found = next;
        v++;
        next = await this.c.versions.findOne({ _id: versionId(prefix, v + 1) });
      }
      return found;
    });
  }

  /** replayOf returns the stored result of a turn the session's latest version remembers. */
  async replayOf(sessionId: string, latest: VersionDoc, turnId: string): Promise<SendTurnResponse | undefined> {
    const seen = recentTurnOf(latest.recentTurns, turnId);
    if (seen === undefined) return undefined;
    const doc =
      seen.v === latest.version && latest.result !== undefined
        ? latest
        : await guard("reading the turn", () =>
            this.c.versions.findOne({ _id: versionId(recordIdPrefix(sessionId, latest.inc), seen.v) }),
          );
    return doc === null ? undefined : resultOfVersion(doc);
  }
}
