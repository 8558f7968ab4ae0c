import type { EventEmitter } from "node:events";

/**
 * drained resolves when a writable whose `write` returned false may take
 * more ("drain"), or when it is over (`endEvent`: "close" for an HTTP/2
 * stream, "status" for a grpc-js call) and nothing more will be taken.
 */
export function drained(writable: EventEmitter, endEvent: string): Promise<void> {
  return new Promise((resolve) => {
    const go = () => {
      writable.off("drain", go);
      writable.off(endEvent, go);
      resolve();
    };
    writable.on("drain", go);
    writable.on(endEvent, go);
  });
}
