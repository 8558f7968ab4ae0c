import type { Duplex } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Compression, envelopeDecompress, type EnvelopedMessage } from "@connectrpc/connect/protocol";

/**
 * GrpcMessageReader reads the messages of one side of a gRPC call on an
 * HTTP/2 stream (a server's requests, a client's replies): it splits the
 * stream's bytes into length-prefixed messages and hands them,
 * decompressed and parsed, to whoever iterates it. It pauses the stream
 * while a message waits to be read, so HTTP/2 flow control holds back a
 * peer that sends faster than this side reads.
 *
 * Unlike a Readable's own async iterator, ending the iteration early does
 * not destroy the stream: a handler that stops reading requests can still
 * write its replies.
 */
export class GrpcMessageReader<T> implements AsyncIterableIterator<T> {
  private pending: Buffer | undefined;
  private readonly queue: EnvelopedMessage[] = [];
  private ended = false;
  private failure: unknown;
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;

  constructor(
    private readonly stream: Duplex,
    private readonly parse: (bytes: Uint8Array) => T,
    private compression: Compression | null,
    private readonly readMaxBytes: number,
    /** Called with each chunk read (a client tells its keepalive the connection is alive). */
    onChunk?: () => void,
  ) {
    stream.on("data", (chunk: Buffer) => {
      onChunk?.();
      this.onData(chunk);
    });
    // The peer or the connection went away mid-stream ("aborted" comes
    // before the "end" Node then emits): the messages stop there, and that
    // is no clean end.
    // (`on`, not `once`: each comes once, and `once` wraps a listener in two
    // more objects, which an idle stream would hold.)
    stream.on("aborted", () => this.fail(new ConnectError("the HTTP/2 stream was closed before it ended (the peer or its connection went away)", Code.Canceled)));
    stream.on("end", () => {
      this.ended = true;
      if (this.pending !== undefined && this.pending.byteLength > 0) {
        this.fail(new ConnectError(`protocol error: the stream ended inside a message (${this.pending.byteLength} bytes of a frame left over)`, Code.InvalidArgument));
        return;
      }
      this.wake();
    });
  }

  /**
   * decompressWith names how compressed messages are compressed, once the
   * peer's headers say it (a client learns it from the reply's headers).
   */
  decompressWith(compression: Compression | null): void {
    this.compression = compression;
  }

  /**
   * fail ends the iteration with `reason` at the next read (a deadline, a
   * cancelled call, a broken frame).
   */
  fail(reason: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    this.queue.length = 0;
    this.wake();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const envelope = this.queue.shift();
    if (envelope !== undefined) {
      if (this.queue.length === 0 && !this.ended) this.stream.resume();
      return this.read(envelope);
    }
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    this.stream.resume();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    // The handler reads no more; the rest of the body is read and dropped
    // so the stream can end cleanly.
    this.ended = true;
    this.queue.length = 0;
    this.stream.resume();
    return Promise.resolve({ done: true, value: undefined });
  }

  private read(envelope: EnvelopedMessage): Promise<IteratorResult<T>> {
    try {
      // An uncompressed message (nearly all) is parsed without a promise hop.
      if ((envelope.flags & 1) === 0) return Promise.resolve({ done: false, value: this.parse(envelope.data) });
      return envelopeDecompress(envelope, this.compression, this.readMaxBytes).then((m) => ({ done: false, value: this.parse(m.data) }));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== undefined) return;
    if (this.ended) return;
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    while (buf.byteLength >= 5) {
      const length = buf.readUInt32BE(1);
      if (length > this.readMaxBytes) {
        this.fail(new ConnectError(`message size ${length} is larger than configured readMaxBytes ${this.readMaxBytes}`, Code.ResourceExhausted));
        return;
      }
      if (buf.byteLength < 5 + length) break;
      this.queue.push({ flags: buf[0] as number, data: buf.subarray(5, 5 + length) });
      buf = buf.subarray(5 + length);
    }
    this.pending = buf.byteLength > 0 ? buf : undefined;
    if (this.queue.length === 0) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      const envelope = this.queue.shift() as EnvelopedMessage;
      this.read(envelope).then(waiter.resolve, waiter.reject);
    }
    if (this.queue.length > 0) this.stream.pause();
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    if (this.failure !== undefined) waiter.reject(this.failure);
    else if (this.ended && this.queue.length === 0) waiter.resolve({ done: true, value: undefined });
  }
}
