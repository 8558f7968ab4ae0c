import { create, type JsonObject } from "@bufbuild/protobuf";
import type { Message } from "@a2a-js/sdk";
import { ContentTypeNotSupportedError, RequestMalformedError } from "@a2a-js/sdk/errors";
import { type TurnInput, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";

/**
 * turnInputOf maps an A2A message onto a turn's input:
 * - text parts are the turn's text (joined by newlines);
 * - a data part may carry `{"intent": "refund"}` and/or
 *   `{"event": {"type": "approval.granted", "data": {...}}}`, what a
 *   Switchboard client sets as `input.intent` and `input.event`;
 * - the message's metadata, whose values must be strings, is the input's
 *   metadata (an actor, permissions, a channel), passed to the agents.
 * Files and raw bytes have no place in a turn's input: they are refused
 * with ContentTypeNotSupported, and anything malformed with
 * RequestMalformed (JSON-RPC -32602, gRPC INVALID_ARGUMENT), naming the part.
 */
export function turnInputOf(message: Message | undefined): TurnInput {
  if (message === undefined) throw new RequestMalformedError("message: missing; send a message with at least one text part");
  const texts: string[] = [];
  const input = create(TurnInputSchema, {});
  message.parts.forEach((part, i) => {
    const content = part.content;
    switch (content?.$case) {
      case "text":
        texts.push(content.value);
        break;
      case "data":
        applyData(input, content.value, `message.parts[${i}].data`);
        break;
      case "url":
      case "raw":
        throw new ContentTypeNotSupportedError(
          `message.parts[${i}]: a flow takes text and data parts only (a file${part.mediaType !== "" ? ` of ${part.mediaType}` : ""} cannot be a turn's input)`,
        );
      default:
        throw new RequestMalformedError(`message.parts[${i}]: empty; set text, data, url or raw`);
    }
  });
  input.text = texts.join("\n");
  for (const [key, value] of Object.entries(message.metadata ?? {})) {
    if (typeof value !== "string") {
      throw new RequestMalformedError(`message.metadata.${key}: must be a string (it becomes the turn's input metadata)`);
    }
    input.metadata[key] = value;
  }
  return input;
}

function applyData(input: TurnInput, value: unknown, where: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RequestMalformedError(`${where}: must be an object with "intent" and/or "event"`);
  }
  const data = value as Record<string, unknown>;
  const unknown = Object.keys(data).filter((k) => k !== "intent" && k !== "event");
  if (unknown.length > 0) throw new RequestMalformedError(`${where}: unknown field(s) ${unknown.join(", ")}; only "intent" and "event" are read`);
  if (data["intent"] !== undefined) {
    if (typeof data["intent"] !== "string") throw new RequestMalformedError(`${where}.intent: must be a string`);
    input.intent = data["intent"];
  }
  const event = data["event"];
  if (event !== undefined) {
    const e = event as Record<string, unknown> | null;
    if (typeof e !== "object" || e === null || typeof e["type"] !== "string") {
      throw new RequestMalformedError(`${where}.event: must be {"type": "...", "data": {...}}`);
    }
    const eventData = e["data"];
    if (eventData !== undefined && (typeof eventData !== "object" || eventData === null || Array.isArray(eventData))) {
      throw new RequestMalformedError(`${where}.event.data: must be an object`);
    }
    input.event = { $typeName: "switchboard.v1.Event", type: e["type"], ...(eventData !== undefined ? { data: eventData as JsonObject } : {}) };
  }
}
