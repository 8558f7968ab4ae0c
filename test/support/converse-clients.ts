import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  type ConverseRequest,
  ConverseRequestSchema,
  type ConverseResponse,
  ConverseResponseSchema,
  OrchestratorService,
  type SessionEvent,
  type WatchSessionRequest,
  WatchSessionRequestSchema,
  type WatchSessionResponse,
  WatchSessionResponseSchema,
} from "../../src/gen/switchboard/v1/orchestrator_pb.js";

/**
 * ConverseRequestInit is a Converse request as a plain object.
 */
export type ConverseRequestInit = MessageInitShape<typeof ConverseRequestSchema>;

/**
 * CallEnd is how a call ended: a gRPC code (0 for OK) and message.
 */
export interface CallEnd {
  code: Code | 0;
  message: string;
}

/**
 * EventStream is one Converse or WatchSession call seen from a test: the
 * events received so far, ways to wait for more, and how the call ended.
 */
export class EventStream {
  readonly events: SessionEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private endedWith: CallEnd | undefined;
  readonly ended: Promise<CallEnd>;
  private resolveEnd!: (end: CallEnd) => void;

  constructor(
    private readonly sender: { send(req: ConverseRequest): void; end(): void; cancel(): void },
    readonly client: string,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnd = resolve));
  }

  /** @private */
  receive(event: SessionEvent): void {
    this.events.push(event);
    for (const w of [...this.waiters]) w();
  }

  /** @private */
  finish(end: CallEnd): void {
    if (this.endedWith !== undefined) return;
    this.endedWith = end;
    this.resolveEnd(end);
    for (const w of [...this.waiters]) w();
  }

  send(req: ConverseRequestInit): void {
    this.sender.send(create(ConverseRequestSchema, req));
  }

  /** end half-closes the request side. */
  end(): void {
    this.sender.end();
  }

  /** cancel drops the call, as a client whose connection broke. */
  cancel(): void {
    this.sender.cancel();
  }

  /**
   * waitFor resolves with the first event at index `from` or later that
   * matches, and fails if the call ends first or after `timeoutMs` (a
   * safety net only).
   */
  waitFor(match: (e: SessionEvent) => boolean, from = 0, timeoutMs = 20_000): Promise<SessionEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.slice(from).find(match);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.endedWith !== undefined) {
          done();
          reject(new Error(`${this.client} call ended (${JSON.stringify(this.endedWith)}) before the expected event; got ${describe(this.events)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.client}: no expected event within ${timeoutMs}ms; got ${describe(this.events)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** waitForKind waits for the next event of a kind (after index `from`). */
  waitForKind(kind: NonNullable<SessionEvent["kind"]["case"]>, from = 0): Promise<SessionEvent> {
    return this.waitFor((e) => e.kind.case === kind, from);
  }

  /** history is the received events that belong to the session's history (seq > 0). */
  history(): SessionEvent[] {
    return this.events.filter((e) => e.seq > 0n);
  }
}

function describe(events: SessionEvent[]): string {
  return events.map((e) => `${e.seq}:${e.kind.case}${e.kind.case === "failed" || e.kind.case === "rejected" ? `(${e.kind.value.code}: ${e.kind.value.message})` : ""}`).join(", ");
}

/**
 * ConverseClient opens Converse and WatchSession calls with one client
 * library.
 */
export interface ConverseClient {
  readonly name: string;
  converse(): EventStream;
  watch(req: MessageInitShape<typeof WatchSessionRequestSchema>): EventStream;
  close(): void;
}

/**
 * Pushable is an async iterable fed by `push`: a request stream for the
 * connect-node client.
 */
export class Pushable<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private done = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.done = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/**
 * connectClient talks to the orchestrator with connect-node (gRPC protocol
 * over HTTP/2 unless another transport is given).
 */
export function connectClient(baseUrl: string, transport: Transport = createGrpcTransport({ baseUrl }), name = "connect-node"): ConverseClient {
  const client = createClient(OrchestratorService, transport);
  const drive = <T extends { event?: SessionEvent | undefined }>(stream: EventStream, responses: AsyncIterable<T>) => {
    void (async () => {
      try {
        for await (const res of responses) if (res.event !== undefined) stream.receive(res.event);
        stream.finish({ code: 0, message: "" });
      } catch (e) {
        const err = ConnectError.from(e);
        stream.finish({ code: err.code, message: err.rawMessage });
      }
    })();
  };
  return {
    name,
    converse() {
      const requests = new Pushable<ConverseRequest>();
      const abort = new AbortController();
      const stream = new EventStream(
        { send: (r) => requests.push(r), end: () => requests.end(), cancel: () => abort.abort() },
        name,
      );
      drive(stream, client.converse(requests, { signal: abort.signal }));
      return stream;
    },
    watch(req) {
      const abort = new AbortController();
      const stream = new EventStream({ send: () => undefined, end: () => undefined, cancel: () => abort.abort() }, name);
      drive(stream, client.watchSession(req, { signal: abort.signal }));
      return stream;
    },
    close() {},
  };
}

type GenericClient = grpc.Client & {
  Converse(): grpc.ClientDuplexStream<ConverseRequest, ConverseResponse>;
  WatchSession(req: WatchSessionRequest): grpc.ClientReadableStream<WatchSessionResponse>;
};

const path = (method: string) => `/${OrchestratorService.typeName}/${method}`;

/**
 * grpcJsClient talks to the orchestrator with @grpc/grpc-js: a generic
 * client whose (de)serializers are protobuf-es's, so no proto loading.
 */
export function grpcJsClient(address: string, options: grpc.ChannelOptions = {}): ConverseClient {
  const methods: grpc.ServiceDefinition = {
    Converse: {
      path: path("Converse"),
      requestStream: true,
      responseStream: true,
      requestSerialize: (m: ConverseRequest) => Buffer.from(toBinary(ConverseRequestSchema, m)),
      requestDeserialize: (b: Buffer) => fromBinary(ConverseRequestSchema, b),
      responseSerialize: (m: ConverseResponse) => Buffer.from(toBinary(ConverseResponseSchema, m)),
      responseDeserialize: (b: Buffer) => fromBinary(ConverseResponseSchema, b),
    },
    WatchSession: {
      path: path("WatchSession"),
      requestStream: false,
      responseStream: true,
      requestSerialize: (m: WatchSessionRequest) => Buffer.from(toBinary(WatchSessionRequestSchema, m)),
      requestDeserialize: (b: Buffer) => fromBinary(WatchSessionRequestSchema, b),
      responseSerialize: (m: WatchSessionResponse) => Buffer.from(toBinary(WatchSessionResponseSchema, m)),
      responseDeserialize: (b: Buffer) => fromBinary(WatchSessionResponseSchema, b),
    },
  };
  const Ctor = grpc.makeGenericClientConstructor(methods, "OrchestratorService");
  const client = new Ctor(address, grpc.credentials.createInsecure(), options) as unknown as GenericClient;
  const drive = (stream: EventStream, call: grpc.ClientReadableStream<{ event?: SessionEvent | undefined }>) => {
    call.on("data", (res: { event?: SessionEvent | undefined }) => {
      if (res.event !== undefined) stream.receive(res.event);
    });
    call.on("error", () => undefined); // the status event reports it
    // connect-node percent-encodes grpc-message with encodeURIComponent and
    // grpc-js decodes it with decodeURI, which leaves ":" as "%3A"; decode
    // the rest here so tests compare the server's actual message.
    call.on("status", (status: grpc.StatusObject) =>
      stream.finish({ code: status.code as Code | 0, message: decodeURIComponent(status.details) }),
    );
  };
  return {
    name: "grpc-js",
    converse() {
      const call = client.Converse();
      const stream = new EventStream({ send: (r) => call.write(r), end: () => call.end(), cancel: () => call.cancel() }, "grpc-js");
      drive(stream, call);
      return stream;
    },
    watch(req) {
      const call = client.WatchSession(create(WatchSessionRequestSchema, req));
      const stream = new EventStream({ send: () => undefined, end: () => undefined, cancel: () => call.cancel() }, "grpc-js");
      drive(stream, call);
      return stream;
    },
    close() {
      client.close();
    },
  };
}
