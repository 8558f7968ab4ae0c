import { toJson } from "@bufbuild/protobuf";
import { useState } from "preact/hooks";
import { type Snapshot, SessionSchema } from "../../../src/gen/switchboard/v1/session_pb.js";
import { timeLabel } from "../format.js";
import { stateDiff } from "../state-diff.js";

/**
 * SnapshotDiff lists a session's versions and shows what changed between
 * any two of them, path by path (`state.verified`, `stage`, `history[2].text`).
 */
export function SnapshotDiff({ snapshots }: { snapshots: Snapshot[] }) {
  const last = snapshots[snapshots.length - 1]?.version ?? 0n;
  const [from, setFrom] = useState<string>("");
  const [to, setTo] = useState<string>("");
  const fromV = from === "" ? (last > 1n ? last - 1n : last) : BigInt(from);
  const toV = to === "" ? last : BigInt(to);
  const find = (v: bigint) => snapshots.find((s) => s.version === v);
  const a = find(fromV);
  const b = find(toV);
  const json = (s: Snapshot | undefined) => (s?.session === undefined ? {} : toJson(SessionSchema, s.session));
  // Times differ on every version and say nothing a reader wants here.
  const rows = stateDiff(json(a), json(b)).filter((r) => !/^(updateTime|expireTime|tally\.stageSince)$/.test(r.path));
  const options = snapshots.map((s) => (
    <option value={String(s.version)}>
      version {String(s.version)} ({s.reason})
    </option>
  ));
  return (
    <div>
      <table data-testid="snapshots">
        <caption class="visually-hidden">Versions</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Why</th>
            <th scope="col">Stage</th>
            <th scope="col">Committed</th>
          </tr>
        </thead>
        <tbody>
          {snapshots.map((s) => (
            <tr>
              <td>{String(s.version)}</td>
              <td>{s.reason}</td>
              <td>{s.session?.stage ?? ""}</td>
              <td>{timeLabel(s.createTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="filters" aria-label="Compare versions" onSubmit={(e) => e.preventDefault()}>
        <label>
          Compare version
          <select value={String(fromV)} onChange={(e) => setFrom(e.currentTarget.value)}>
            {options}
          </select>
        </label>
        <label>
          with version
          <select value={String(toV)} onChange={(e) => setTo(e.currentTarget.value)}>
            {options}
          </select>
        </label>
      </form>
      {rows.length === 0 ? (
        <p class="empty">No difference between version {String(fromV)} and version {String(toV)}.</p>
      ) : (
        <table data-testid="diff" class="diff">
          <caption>
            Changes from version {String(fromV)} to version {String(toV)}
          </caption>
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col">Change</th>
              <th scope="col">Version {String(fromV)}</th>
              <th scope="col">Version {String(toV)}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr class={`diff-${r.kind}`}>
                <th scope="row">
                  <code>{r.path}</code>
                </th>
                <td>{r.kind}</td>
                <td>
                  <code>{r.before}</code>
                </td>
                <td>
                  <code>{r.after}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
