import { create } from "@bufbuild/protobuf";
import { type Rollout, RolloutSchema, type VersionWeight, VersionWeightSchema } from "../gen/switchboard/v1/rollout_pb.js";
import { failedPrecondition, invalidArgument } from "./errors.js";
import { compareVersions } from "./flow.js";

/**
 * rolloutBuckets is how finely a rollout splits new sessions: weights are
 * whole percentages, so a hundred buckets.
 */
export const rolloutBuckets = 100;

/**
 * rolloutKey is what a new session's version is chosen by: the account id
 * when the caller names one, else the session id. An account's calls then
 * all get the same version while the rollout stands (a caller who rings
 * back hears the flow they heard before, and one account's sessions never
 * mix versions), and a session without an account is still assigned
 * evenly by its own id. Both are known before the session exists, on
 * every replica alike.
 */
export function rolloutKey(sessionId: string, accountId: string): string {
  return accountId !== "" ? `account:${accountId}` : `session:${sessionId}`;
}

/**
 * rolloutBucket is a key's bucket (0 to 99) for one flow: FNV-1a over the
 * flow id and the key, finished with MurmurHash3's avalanche so that keys
 * differing in their last characters spread over all buckets. The flow id
 * salts it, so the sessions in one flow's 10 % are not also the ones in
 * another flow's. It is pure arithmetic: every replica, in every release,
 * computes the same bucket.
 */
export function rolloutBucket(flowId: string, key: string): number {
  let h = 0x811c9dc5;
  const text = `${flowId}\u0000${key}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % rolloutBuckets;
}

/**
 * assignVersion is the version a rollout gives a new session with `key`.
 * The weights are laid out newest version first over the buckets, so
 * raising the newest version's weight from 10 to 20 keeps every session
 * that had it and adds more: a key moves only towards the version whose
 * share grew. Undefined when no version has weight (no rollout).
 */
export function assignVersion(rollout: Rollout, key: string): string | undefined {
  const bucket = rolloutBucket(rollout.flowId, key);
  let end = 0;
  for (const w of newestFirst(rollout.weights)) {
    end += w.weight;
    if (bucket < end) return w.version;
  }
  return undefined;
}

/**
 * newestFirst orders weights by version, newest first.
 */
export function newestFirst(weights: readonly VersionWeight[]): VersionWeight[] {
  return [...weights].sort((a, b) => compareVersions(b.version, a.version));
}

/**
 * parseWeights reads weights written as `VERSION=PERCENT` (e.g. `2=10`),
 * the form the command line and the docs use.
 */
export function parseWeights(args: readonly string[]): VersionWeight[] {
  return args.map((arg) => {
    const m = /^([^=\s]+)=(\d{1,3})%?$/.exec(arg);
    if (m === null) throw invalidArgument("weights", `${JSON.stringify(arg)} is not VERSION=PERCENT, e.g. 2=10`);
    return create(VersionWeightSchema, { version: m[1] as string, weight: Number(m[2]) });
  });
}

/**
 * checkWeights validates a rollout's weights against the flow's loaded
 * versions: each named once, whole percentages adding up to 100
 * (INVALID_ARGUMENT), each a loaded version of the flow
 * (FAILED_PRECONDITION). It returns them newest version first.
 */
export function checkWeights(flowId: string, weights: readonly VersionWeight[], loaded: readonly string[]): VersionWeight[] {
  if (weights.length === 0) throw invalidArgument("weights", `no weights: give each version of ${flowId} its share, e.g. 2=10 1=90`);
  const seen = new Set<string>();
  let sum = 0;
  for (const w of weights) {
    if (seen.has(w.version)) throw invalidArgument("weights", `version ${JSON.stringify(w.version)} is named twice`);
    seen.add(w.version);
    if (!Number.isInteger(w.weight) || w.weight < 0 || w.weight > 100) {
      throw invalidArgument("weights", `version ${JSON.stringify(w.version)}: weight ${w.weight} is not a whole percentage from 0 to 100`);
    }
    sum += w.weight;
  }
  if (sum !== 100) {
    throw invalidArgument("weights", `the weights add up to ${sum}, not 100 (${weights.map((w) => `${w.version}=${w.weight}`).join(" ")})`);
  }
  const missing = weights.filter((w) => !loaded.includes(w.version)).map((w) => w.version);
  if (missing.length > 0) {
    throw failedPrecondition(
      `flow ${flowId} has no version ${missing.map((v) => JSON.stringify(v)).join(", ")} loaded here (loaded: ${[...loaded].sort(compareVersions).join(", ") || "none"}); add its file to the flow directory and reload first`,
    );
  }
  return newestFirst(weights);
}

/**
 * describeWeights renders weights as `2=10 1=90`, newest first; "none" for
 * no rollout.
 */
export function describeWeights(rollout: Rollout | undefined): string {
  if (rollout === undefined || rollout.weights.length === 0) return "none";
  return newestFirst(rollout.weights)
    .map((w) => `${w.version}=${w.weight}`)
    .join(" ");
}

/**
 * noRollout is the rollout of a flow that has none (revision 0).
 */
export function noRollout(flowId: string): Rollout {
  return create(RolloutSchema, { flowId });
}
