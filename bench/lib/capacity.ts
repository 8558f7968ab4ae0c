import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  type ConverseRequest,
  ConverseRequestSchema,
  OrchestratorService,
} from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { noDelayConnection } from "../../src/mesh/no-delay.js";
import { RequestQueue } from "./converse.js";
import { memory, resetPeak } from "./proc-stats.js";

/**
 * CapacityResult is what holding many idle Converse streams on one server
 * cost it; `available` is false when the server does not implement
 * Converse (it answered UNIMPLEMENTED).
 */
export interface CapacityResult {
  available: boolean;
  streams: number;
  /** Streams the server ended or refused while they should have stayed open. */
  failed: number;
  /** Of those, refused for lack of resources (RESOURCE_EXHAUSTED). */
  resourceExhausted: number;
  firstError?: string;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  peakRssMiB: number;
  /** (RSS with the streams open − RSS before) ÷ streams. */
  bytesPerStream: number;
  openSeconds: number;
}

const mib = (b: number) => b / (1 << 20);

/**
 * holdIdleStreams opens `streams` Converse streams on the server at `url`
 * over `connections` HTTP/2 connections, each sending only its `open`
 * message, waits until the server's memory settles, measures, and closes
 * them all. Past `deadline` (epoch ms) it stops opening and settling and
 * reports what it has: `streams` is then the number it opened.
 */
export async function holdIdleStreams(url: string, pid: number, streams: number, connections: number, deadline = Infinity): Promise<CapacityResult> {
  // No client PINGs here (the server PINGs every connection anyway): a
  // server busy opening 100,000 streams may answer one late, and
  // connect-node then closes the connection with every stream on it (and,
  // with no listener for that error, takes the load generator down).
  const transports = Array.from({ length: connections }, () =>
    createGrpcTransport({ baseUrl: url, idleConnectionTimeoutMs: 600_000, nodeOptions: { createConnection: noDelayConnection } }) as Transport & { close?: () => void },
  );
  const clients = transports.map((t) => createClient(OrchestratorService, t));
  const aborts: AbortController[] = [];
  const queues: RequestQueue<ConverseRequest>[] = [];
  let failed = 0;
  let resourceExhausted = 0;
  let firstError: string | undefined;
  let unimplemented = false;
  const open = (i: number) => {
    const q = new RequestQueue<ConverseRequest>();
    q.push(create(ConverseRequestSchema, { kind: { case: "open", value: { sessionId: `idle-${i}`, flowId: "bench-1" } } }));
    const abort = new AbortController();
    queues.push(q);
    aborts.push(abort);
    const client = clients[i % clients.length];
    if (client === undefined) return;
    void (async () => {
      try {
        for await (const _ of client.converse(q, { signal: abort.signal })) {
          // an idle stream gets nothing; events are ignored
        }
        if (!abort.signal.aborted) {
          failed++;
          firstError ??= "the server ended the stream";
        }
      } catch (e) {
        if (abort.signal.aborted) return;
        const err = ConnectError.from(e);
        if (err.code === Code.Unimplemented) unimplemented = true;
        if (err.code === Code.ResourceExhausted) resourceExhausted++;
        failed++;
        firstError ??= `${Code[err.code]}: ${err.rawMessage}`;
      }
    })();
  };
  const closeAll = () => {
    for (const q of queues) q.end();
    for (const a of aborts) a.abort();
    for (const t of transports) t.close?.();
  };
  const notAvailable: CapacityResult = {
    available: false, streams: 0, failed: 0, resourceExhausted: 0, rssBeforeMiB: NaN, rssAfterMiB: NaN,
    peakRssMiB: NaN, bytesPerStream: NaN, openSeconds: NaN,
  };
  // Probe with one stream: a server without Converse answers UNIMPLEMENTED
  // at once; one with it keeps the stream open and says nothing.
  open(-1);
  for (let i = 0; i < 20 && failed === 0; i++) await new Promise((r) => setTimeout(r, 50));
  if (unimplemented) {
    closeAll();
    return notAvailable;
  }
  await settle(pid, deadline);
  const before = memory(pid).rss;
  resetPeak(pid);
  const t0 = performance.now();
  let opened = 0;
  for (let i = 0; i < streams && Date.now() < deadline; i++) {
    open(i);
    opened++;
    // Let the connections breathe every few hundred streams.
    if (i % 250 === 249) await new Promise((r) => setImmediate(r));
  }
  const openSeconds = (performance.now() - t0) / 1000;
  await settle(pid, deadline);
  const after = memory(pid);
  closeAll();
  if (unimplemented) return notAvailable;
  return {
    available: true,
    streams: opened,
    failed,
    resourceExhausted,
    ...(firstError !== undefined ? { firstError } : {}),
    rssBeforeMiB: mib(before),
    rssAfterMiB: mib(after.rss),
    peakRssMiB: mib(after.peak),
    bytesPerStream: (after.rss - before) / opened,
    openSeconds,
  };
}

/** settle waits until a process's RSS stops moving (under 0.5% in a second), at most 20 s or until `until`. */
async function settle(pid: number, until: number): Promise<void> {
  let last = memory(pid).rss;
  const deadline = Math.min(until, Date.now() + 20_000);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = memory(pid).rss;
    if (Math.abs(now - last) < last * 0.005 || Date.now() > deadline) return;
    last = now;
  }
}
