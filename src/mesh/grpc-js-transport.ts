import {
  create,
  type DescMessage,
  type DescMethodStreaming,
  type DescMethodUnary,
  fromBinary,
  isMessage,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  type CallOptions,
  Client,
  type ClientDuplexStream,
  type ChannelOptions,
  credentials,
  Metadata,
  type StatusObject,
} from "@grpc/grpc-js";
import { drained } from "../wire/drained.js";
import type { TransportFactory } from "./connection-pool.js";
import { type Exchange, type Exchanger, exchangeTransport } from "./exchange-transport.js";
import { defaultKeepaliveOptions, type KeepaliveOptions } from "./keepalive.js";

/**
 * GrpcJsTransportOptions configure a transport over a grpc-js channel.
 */
export interface GrpcJsTransportOptions {
  /** The server, e.g. "http://127.0.0.1:7001"; https:// uses TLS with the system's roots. */
  baseUrl: string;
  /** Interceptors, as for Connect's own transports. */
  interceptors?: Interceptor[];
  /** grpc-js channel options, e.g. `{"grpc.keepalive_time_ms": 15000}`. */
  channelOptions?: ChannelOptions;
}

/**
 * GrpcJsTransport is a Connect Transport with a grpc-js channel for the
 * wire: clients made with `createClient` keep Connect's API (async
 * iterables, ConnectError, interceptors, signals, timeouts) while HTTP/2,
 * framing and flow control are grpc-js's. It speaks gRPC only (not the
 * Connect or gRPC-Web protocols). `close` releases the channel.
 */
export interface GrpcJsTransport extends Transport {
  close(): void;
}

/**
 * createGrpcJsTransport returns a Transport over one grpc-js channel to
 * `baseUrl`. The channel connects lazily and reconnects by itself.
 */
export function createGrpcJsTransport(opts: GrpcJsTransportOptions): GrpcJsTransport {
  const url = new URL(opts.baseUrl);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConnectError(`${opts.baseUrl}: a gRPC endpoint is http:// or https://`, Code.InvalidArgument);
  }
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const creds = url.protocol === "https:" ? credentials.createSsl() : credentials.createInsecure();
  const client = new Client(`${url.hostname}:${port}`, creds, opts.channelOptions ?? {});
  const prefix = url.pathname.replace(/\/+$/, "");

  const open = <I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O> | DescMethodStreaming<I, O>,
    signal: AbortSignal,
    timeoutMs: number | undefined,
    header: Headers,
  ): { call: ClientDuplexStream<MessageShape<I>, MessageShape<O>>; response: Promise<Exchange<O>> } => {
    const options: CallOptions = {};
    if (timeoutMs !== undefined) options.deadline = Date.now() + timeoutMs;
    const call = client.makeBidiStreamRequest<MessageShape<I>, MessageShape<O>>(
      `${prefix}/${method.parent.typeName}/${method.name}`,
      (m) => Buffer.from(toBinary(method.input, m)),
      (b) => fromBinary(method.output, b),
      metadataOf(header),
      options,
    );
    const onAbort = () => call.cancel();
    if (signal.aborted) call.cancel();
    else signal.addEventListener("abort", onAbort, { once: true });
    call.on("status", () => signal.removeEventListener("abort", onAbort));
    return { call, response: exchange(call, signal) };
  };

  const exchanger: Exchanger = (method, signal, timeoutMs, header, input) => {
    const { call, response } = open(method, signal, timeoutMs, header);
    if (input.kind === "unary") call.end(input.message);
    else void pump(input.messages, call, method.input);
    return response;
  };
  return Object.assign(exchangeTransport(opts.baseUrl, opts.interceptors ?? [], exchanger), { close: () => client.close() });
}

/**
 * grpcJsAgentTransport is the TransportFactory for agents over grpc-js: one
 * channel per endpoint, kept alive with pings at the given interval and
 * timeout. grpc-js times its PINGs itself, with no way in for this
 * process's event-loop delay: unlike the default transport's, its timeouts
 * count even when the orchestrator was the one that stalled.
 */
export function grpcJsAgentTransport(keepalive: KeepaliveOptions = defaultKeepaliveOptions): TransportFactory {
  return (endpoint) => {
    const transport = createGrpcJsTransport({
      baseUrl: endpoint,
      channelOptions: {
        "grpc.keepalive_time_ms": keepalive.intervalMs,
        "grpc.keepalive_timeout_ms": keepalive.timeoutMs,
        "grpc.client_idle_timeout_ms": 5 * 60_000,
      },
    });
    return { transport, close: () => transport.close() };
  };
}

/**
 * grpcJsTransport is grpcJsAgentTransport with the default keepalive.
 * Opt in with `switchboard serve --agent-transport grpc-js`.
 */
export const grpcJsTransport: TransportFactory = grpcJsAgentTransport();

/**
 * pump writes the request messages to the call, waiting for the channel
 * when it is full, and half-closes it after the last one. A request
 * iterable that fails cancels the call.
 */
async function pump<I extends DescMessage, O extends DescMessage>(
  input: AsyncIterable<MessageShape<I>>,
  call: ClientDuplexStream<MessageShape<I>, MessageShape<O>>,
  schema: I,
): Promise<void> {
  let ended = false;
  call.once("status", () => (ended = true));
  try {
    for await (const m of input) {
      if (ended) break;
      const message = isMessage(m, schema) ? m : create(schema, m as MessageInitShape<I>);
      if (!call.write(message)) await drained(call, "status");
    }
    if (!ended) call.end();
  } catch {
    call.cancel();
  }
}

/**
 * exchange resolves once the server's response headers arrive (or rejects
 * with the call's status when it fails before), and yields the response
 * messages as they come, ending with the call's status.
 */
function exchange<I extends DescMessage, O extends DescMessage>(
  call: ClientDuplexStream<MessageShape<I>, MessageShape<O>>,
  signal: AbortSignal,
): Promise<Exchange<O>> {
  const queue: MessageShape<O>[] = [];
  const trailer = new Headers();
  let status: StatusObject | undefined;
  let wake: (() => void) | undefined;
  call.on("data", (m: MessageShape<O>) => {
    queue.push(m);
    wake?.();
  });
  // grpc-js reports a failed call both as "error" and as "status"; the
  // status has everything, the error only needs a listener.
  call.on("error", () => undefined);
  return new Promise((resolve, reject) => {
    let started = false;
    call.once("metadata", (md: Metadata) => {
      started = true;
      resolve({ header: headersOf(md), trailer, messages: messages() });
    });
    call.once("status", (s: StatusObject) => {
      status = s;
      for (const [k, v] of Object.entries(headersOf(s.metadata))) trailer.set(k, v);
      wake?.();
      if (!started) {
        if (s.code === 0) resolve({ header: new Headers(), trailer, messages: messages() });
        else reject(statusError(s, signal));
      }
    });
  });

  async function* messages(): AsyncGenerator<MessageShape<O>> {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (status !== undefined) {
        if (status.code !== 0) throw statusError(status, signal);
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  }
}

/**
 * statusError is the ConnectError for a failed call. gRPC status codes and
 * Connect codes share their numbers. A call cancelled through the signal
 * fails with the signal's reason, as Connect's transports do.
 */
function statusError(s: StatusObject, signal: AbortSignal): ConnectError {
  if (signal.aborted && (s.code as number) === Code.Canceled) return ConnectError.from(signal.reason, Code.Canceled);
  const code = s.code >= 1 && s.code <= 16 ? (s.code as number as Code) : Code.Unknown;
  return new ConnectError(s.details, code, headersOf(s.metadata));
}

/** metadataOf turns request headers into grpc-js metadata (binary headers end in -bin and carry base64). */
function metadataOf(header: Headers): Metadata {
  const md = new Metadata();
  header.forEach((value, key) => {
    if (key.endsWith("-bin")) {
      for (const v of value.split(",")) md.add(key, Buffer.from(v.trim(), "base64"));
    } else {
      md.add(key, value);
    }
  });
  return md;
}

/** headersOf turns grpc-js metadata into Headers, as Connect's own transports present them. */
function headersOf(md: Metadata): Headers {
  const h = new Headers();
  for (const [key, values] of Object.entries(md.toJSON())) {
    for (const v of values) h.append(key, typeof v === "string" ? v : Buffer.from(v).toString("base64").replace(/=+$/, ""));
  }
  return h;
}
