import { type DescField, type DescMessage, type MessageShape, ScalarType, toBinary } from "@bufbuild/protobuf";
import { Edition, isWrapperDesc } from "@bufbuild/protobuf/wkt";

/**
 * grpcFrame returns a message as one gRPC frame: the 5-byte envelope
 * (uncompressed, big-endian length) and the message's binary encoding,
 * byte for byte what `encodeEnvelope(0, toBinary(schema, message))` gives.
 *
 * Protobuf-es's writer allocates as it goes: a Uint8Array per string, a
 * number array and a Uint8Array per run of varints, a buffer per nested
 * message that its parent copies again, then the envelope's copy. For the
 * orchestrator's TurnStart (the history, the state) that was over a
 * quarter of all the bytes the process allocated per turn, and the
 * garbage collector is the largest single cost of a turn. Here a message
 * is written once into a scratch buffer kept between calls (encoding is
 * synchronous), nested lengths patched in place, and copied out once.
 *
 * It writes what the orchestrator's messages use (proto3 files: strings,
 * bools, 32-bit integers and enums, int64/uint64 as bigints, doubles,
 * bytes, messages, oneofs, lists, maps, `google.protobuf.Struct` as JSON);
 * for anything else (other scalar types, wrappers, unknown fields, other
 * syntaxes, values protobuf-es would refuse) it hands the message to
 * `toBinary`, which encodes or throws as it always did.
 */
export function grpcFrame<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Uint8Array {
  try {
    w.pos = 5;
    writeFields(schema, message as unknown as Obj);
    const len = w.pos - 5;
    const out = w.buf.slice(0, w.pos);
    out[0] = 0;
    out[1] = len >>> 24;
    out[2] = (len >>> 16) & 0xff;
    out[3] = (len >>> 8) & 0xff;
    out[4] = len & 0xff;
    shrink();
    return out;
  } catch (e) {
    if (e !== unsupported) throw e;
    const bytes = toBinary(schema, message);
    const out = new Uint8Array(bytes.byteLength + 5);
    new DataView(out.buffer).setUint32(1, bytes.byteLength);
    out.set(bytes, 5);
    return out;
  }
}

type Obj = Record<string, unknown>;

/** Thrown (never allocated anew) when a message needs protobuf-es's own writer. */
const unsupported = { unsupported: true };

const initialSize = 4096;
/** A scratch buffer grown past this is let go after the call, so one huge message does not stay allocated. */
const keptSize = 1 << 20;

const w = { buf: new Uint8Array(initialSize), view: undefined as unknown as DataView, pos: 0 };
w.view = new DataView(w.buf.buffer);

const textEncoder = new TextEncoder();

function ensure(n: number): void {
  if (w.pos + n <= w.buf.length) return;
  let size = w.buf.length * 2;
  while (size < w.pos + n) size *= 2;
  const next = new Uint8Array(size);
  next.set(w.buf.subarray(0, w.pos));
  w.buf = next;
  w.view = new DataView(next.buffer);
}

function shrink(): void {
  if (w.buf.length <= keptSize) return;
  w.buf = new Uint8Array(initialSize);
  w.view = new DataView(w.buf.buffer);
}

function varint(v: number): void {
  ensure(5);
  const buf = w.buf;
  while (v > 0x7f) {
    buf[w.pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[w.pos++] = v;
}

function tag(no: number, wireType: number): void {
  varint(((no << 3) | wireType) >>> 0);
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** int32 writes a signed 32-bit varint: a negative one sign-extended to ten bytes, as protobuf requires. */
function int32(v: number): void {
  if (v >= 0) return varint(v);
  ensure(10);
  const buf = w.buf;
  for (let i = 0; i < 4; i++) {
    buf[w.pos++] = (v & 0x7f) | 0x80;
    v >>= 7;
  }
  buf[w.pos++] = (v & 0x0f) | 0x70 | 0x80;
  for (let i = 0; i < 4; i++) buf[w.pos++] = 0xff;
  buf[w.pos++] = 0x01;
}

function uint64(v: bigint): void {
  ensure(10);
  const buf = w.buf;
  while (v > 0x7fn) {
    buf[w.pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[w.pos++] = Number(v);
}

/** beginLength reserves one byte for a length-delimited value's length; endLength writes it, moving the value when the length takes more. */
function beginLength(): number {
  ensure(1);
  return w.pos++;
}

function endLength(at: number): void {
  const len = w.pos - at - 1;
  if (len < 0x80) {
    w.buf[at] = len;
    return;
  }
  const extra = varintSize(len) - 1;
  ensure(extra);
  w.buf.copyWithin(at + 1 + extra, at + 1, w.pos);
  w.pos += extra;
  const end = w.pos;
  w.pos = at;
  varint(len);
  w.pos = end;
}

function string(s: unknown): void {
  if (typeof s !== "string") throw unsupported;
  const n = s.length;
  ensure(5 + n);
  const at = w.pos;
  varint(n);
  const start = w.pos;
  const buf = w.buf;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) {
      // Not ASCII: its UTF-8 length differs from n.
      w.pos = at;
      return utf8String(s);
    }
    buf[start + i] = c;
  }
  w.pos = start + n;
}

function utf8String(s: string): void {
  ensure(5 + s.length * 3);
  const lengthAt = beginLength();
  const { written } = textEncoder.encodeInto(s, w.buf.subarray(w.pos));
  w.pos += written;
  endLength(lengthAt);
}

function bytes(b: unknown): void {
  if (!(b instanceof Uint8Array)) throw unsupported;
  varint(b.byteLength);
  ensure(b.byteLength);
  w.buf.set(b, w.pos);
  w.pos += b.byteLength;
}

function double(v: unknown): void {
  if (typeof v !== "number") throw unsupported;
  ensure(8);
  w.view.setFloat64(w.pos, v, true);
  w.pos += 8;
}

const varintType = 0;
const bit64Type = 1;
const lengthType = 2;

/** isImplicitZero tells a proto3 scalar or enum at its zero value, which is not written. */
function isImplicitZero(field: DescField, v: unknown): boolean {
  if (field.fieldKind === "enum") return v === field.enum.values[0]?.number;
  switch (field.scalar) {
    case ScalarType.BOOL:
      return v === false;
    case ScalarType.STRING:
      return v === "";
    case ScalarType.BYTES:
      return v instanceof Uint8Array && v.byteLength === 0;
    case ScalarType.DOUBLE:
      return Object.is(v, 0);
    default:
      return v == 0;
  }
}

/** scalar writes a scalar value (without its tag) of one of the types written here. */
function scalar(type: ScalarType, v: unknown): void {
  switch (type) {
    case ScalarType.STRING:
      return string(v);
    case ScalarType.BOOL:
      ensure(1);
      w.buf[w.pos++] = v ? 1 : 0;
      return;
    case ScalarType.INT32:
      if (typeof v !== "number" || !Number.isInteger(v) || v > 0x7fffffff || v < -0x80000000) throw unsupported;
      return int32(v);
    case ScalarType.UINT32:
      if (typeof v !== "number" || !Number.isInteger(v) || v > 0xffffffff || v < 0) throw unsupported;
      return varint(v);
    case ScalarType.INT64:
      if (typeof v !== "bigint" || v > 0x7fffffffffffffffn || v < -0x8000000000000000n) throw unsupported;
      return uint64(BigInt.asUintN(64, v));
    case ScalarType.UINT64:
      if (typeof v !== "bigint" || v > 0xffffffffffffffffn || v < 0n) throw unsupported;
      return uint64(v);
    case ScalarType.DOUBLE:
      return double(v);
    case ScalarType.BYTES:
      return bytes(v);
    default:
      throw unsupported;
  }
}

function wireTypeOf(type: ScalarType): number {
  switch (type) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return lengthType;
    case ScalarType.DOUBLE:
      return bit64Type;
    default:
      return varintType;
  }
}

const sortedFields = new WeakMap<DescMessage, readonly DescField[]>();

function fieldsOf(desc: DescMessage): readonly DescField[] {
  let fields = sortedFields.get(desc);
  if (fields === undefined) {
    if (desc.file.edition !== Edition.EDITION_PROTO3) throw unsupported;
    fields = [...desc.fields].sort((a, b) => a.number - b.number);
    sortedFields.set(desc, fields);
  }
  return fields;
}

const isWrapper = (desc: DescMessage) => isWrapperDesc(desc);
const isStruct = (desc: DescMessage) => desc.typeName === "google.protobuf.Struct";

function writeFields(desc: DescMessage, m: Obj): void {
  if (typeof m !== "object" || m === null) throw unsupported;
  const unknown = m["$unknown"] as unknown[] | undefined;
  if (unknown !== undefined && unknown.length > 0) throw unsupported;
  for (const field of fieldsOf(desc)) {
    let v: unknown;
    if (field.oneof !== undefined) {
      const o = m[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (o === undefined || o.case !== field.localName) continue;
      v = o.value;
    } else {
      v = m[field.localName];
    }
    switch (field.fieldKind) {
      case "scalar":
      case "enum": {
        if (v === undefined) continue;
        if (field.oneof === undefined && field.presence === implicit && isImplicitZero(field, v)) continue;
        const type = field.fieldKind === "enum" ? ScalarType.INT32 : field.scalar;
        tag(field.number, wireTypeOf(type));
        scalar(type, v);
        break;
      }
      case "message": {
        if (v === undefined) continue;
        if (field.delimitedEncoding || (isWrapper(field.message) && field.oneof === undefined)) throw unsupported;
        tag(field.number, lengthType);
        const at = beginLength();
        if (isStruct(field.message) && desc.typeName !== "google.protobuf.Value") jsonStruct(v);
        else writeFields(field.message, v as Obj);
        endLength(at);
        break;
      }
      case "list":
        list(field, v);
        break;
      case "map":
        map(field, v);
        break;
    }
  }
}

/** The presence of a proto3 field without `optional` (google.protobuf.FeatureSet.FieldPresence.IMPLICIT). */
const implicit = 2;

function list(field: DescField & { fieldKind: "list" }, v: unknown): void {
  if (!Array.isArray(v)) throw unsupported;
  if (v.length === 0) return;
  if (field.listKind === "message") {
    if (field.delimitedEncoding || isWrapper(field.message) || isStruct(field.message)) throw unsupported;
    for (const item of v) {
      tag(field.number, lengthType);
      const at = beginLength();
      writeFields(field.message, item as Obj);
      endLength(at);
    }
    return;
  }
  const type = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
  if (field.packed) {
    tag(field.number, lengthType);
    const at = beginLength();
    for (const item of v) scalar(type, item);
    endLength(at);
    return;
  }
  for (const item of v) {
    tag(field.number, wireTypeOf(type));
    scalar(type, item);
  }
}

function map(field: DescField & { fieldKind: "map" }, v: unknown): void {
  if (typeof v !== "object" || v === null) throw unsupported;
  const keyType = field.mapKey;
  if (keyType !== ScalarType.STRING) throw unsupported;
  for (const key of Object.keys(v)) {
    const value = (v as Obj)[key];
    tag(field.number, lengthType);
    const at = beginLength();
    tag(1, lengthType);
    string(key);
    if (field.mapKind === "message") {
      if (isWrapper(field.message) || isStruct(field.message)) throw unsupported;
      tag(2, lengthType);
      const valueAt = beginLength();
      writeFields(field.message, value as Obj);
      endLength(valueAt);
    } else {
      const type = field.mapKind === "enum" ? ScalarType.INT32 : field.scalar;
      tag(2, wireTypeOf(type));
      scalar(type, value);
    }
    endLength(at);
  }
}

/** jsonStruct writes a JSON object as google.protobuf.Struct, as protobuf-es converts one. */
function jsonStruct(v: unknown): void {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw unsupported;
  for (const key of Object.keys(v)) {
    tag(1, lengthType);
    const at = beginLength();
    tag(1, lengthType);
    string(key);
    tag(2, lengthType);
    const valueAt = beginLength();
    jsonValue((v as Obj)[key]);
    endLength(valueAt);
    endLength(at);
  }
}

/** jsonValue writes a JSON value as google.protobuf.Value; anything that is not JSON writes an empty Value, as protobuf-es does. */
function jsonValue(v: unknown): void {
  switch (typeof v) {
    case "number":
      tag(2, bit64Type);
      return double(v);
    case "string":
      tag(3, lengthType);
      return string(v);
    case "boolean":
      tag(4, varintType);
      ensure(1);
      w.buf[w.pos++] = v ? 1 : 0;
      return;
    case "object": {
      if (v === null) {
        tag(1, varintType);
        return varint(0);
      }
      if (Array.isArray(v)) {
        tag(6, lengthType);
        const at = beginLength();
        for (const item of v) {
          tag(1, lengthType);
          const itemAt = beginLength();
          jsonValue(item);
          endLength(itemAt);
        }
        endLength(at);
        return;
      }
      tag(5, lengthType);
      const at = beginLength();
      jsonStruct(v);
      endLength(at);
      return;
    }
  }
}
