import { Code, ConnectError } from "@connectrpc/connect";
import type { LoopDelay } from "../mesh/loop-delay.js";
import type { Limits } from "./limits.js";
import type { Metrics } from "./metrics.js";

/**
 * admissionRetryMs is how long a turn refused for overload is told to
 * wait: about as long as a short turn takes to finish and free a slot.
 */
const admissionRetryMs = 1000;

/**
 * TurnAdmission refuses NEW turns while this replica is overloaded — too
 * many turns in flight, or (when configured) its event loop running late —
 * with RESOURCE_EXHAUSTED, a message that says when to retry, and a
 * `retry-after` header (seconds) on unary answers. Turns already running
 * are never touched: under overload a caller gets an honest, early "not
 * now" instead of a turn that fails half way.
 */
export class TurnAdmission {
  constructor(
    private readonly limits: Pick<Limits, "maxTurnsInFlight" | "maxLoopDelayMs">,
    private readonly loop: LoopDelay,
    private readonly metrics?: Metrics,
  ) {}

  /**
   * admit lets a turn in, with `running` turns in flight counting it, or
   * throws RESOURCE_EXHAUSTED saying when to try again.
   */
  admit(running: number): void {
    const max = this.limits.maxTurnsInFlight;
    if (max > 0 && running > max) {
      this.metrics?.limitRejected("turns_in_flight");
      throw overloaded(`this replica is running ${max} turns, its limit of turns in flight`, admissionRetryMs);
    }
    const maxDelay = this.limits.maxLoopDelayMs;
    if (maxDelay > 0) {
      const delay = this.loop.delayMs();
      if (delay > maxDelay) {
        this.metrics?.limitRejected("loop_delay");
        throw overloaded(`this replica's event loop runs ${Math.round(delay)}ms late, above its limit of ${maxDelay}ms`, Math.max(admissionRetryMs, Math.ceil(2 * delay)));
      }
    }
  }
}

function overloaded(why: string, retryMs: number): ConnectError {
  return new ConnectError(
    `the orchestrator is overloaded and takes no new turns: ${why}; running turns go on; retry in ${retryMs}ms or on another replica`,
    Code.ResourceExhausted,
    { "retry-after": String(Math.ceil(retryMs / 1000)) },
  );
}
