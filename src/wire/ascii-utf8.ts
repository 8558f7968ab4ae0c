import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

/** The longest string encoded byte by byte; longer ones go to TextEncoder, whose fixed cost no longer dominates. */
const maxInline = 256;

const encoder = new TextEncoder();

/**
 * encodeUtf8 returns the UTF-8 bytes of `text`, exactly as
 * `TextEncoder.encode` does. Protobuf-es encodes every string field on its
 * own, and most of them (ids, stage and agent names, short replies) are
 * short ASCII; for those, `TextEncoder.encode` costs about 300 ns each in
 * Node 20 (a call into C++ and a fresh ArrayBuffer), a byte loop about
 * 40 ns. A turn encodes a few hundred such strings (the agent's TurnStart
 * with the history, the caller's response with the session). Anything not
 * ASCII, or long, goes to TextEncoder.
 */
export function encodeUtf8(text: string): Uint8Array<ArrayBuffer> {
  const n = text.length;
  if (n > maxInline) return encoder.encode(text);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return encoder.encode(text);
    out[i] = c;
  }
  return out;
}

/**
 * useAsciiFastEncoding makes protobuf-es encode strings with encodeUtf8
 * (decoding and UTF-8 checks stay as they were). It is process-wide, as
 * protobuf-es's text encoding is; calling it again changes nothing.
 */
export function useAsciiFastEncoding(): void {
  const current = getTextEncoding();
  if (current.encodeUtf8 === encodeUtf8) return;
  configureTextEncoding({ ...current, encodeUtf8 });
}
