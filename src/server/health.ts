import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../gen/grpc/health/v1/health_pb.js";

export { ServingStatus };

/**
 * HealthStatus holds the serving status of the server ("") and of each of
 * its services, and notifies watchers of changes.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<() => void>();

  /**
   * set changes the status of one service ("" for the whole server).
   */
  set(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const notify of this.watchers) notify();
  }

  /**
   * setAll changes the status of the server and of every known service.
   */
  setAll(status: ServingStatus): void {
    for (const service of [...this.statuses.keys(), ""]) this.statuses.set(service, status);
    for (const notify of this.watchers) notify();
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /**
   * changes yields after every status change until the signal aborts.
   */
  async *changes(signal: AbortSignal): AsyncGenerator<void> {
    let pending = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      pending = true;
      wake?.();
    };
    this.watchers.add(notify);
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (!pending) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        if (signal.aborted) return;
        pending = false;
        yield;
      }
    } finally {
      this.watchers.delete(notify);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/**
 * healthService implements grpc.health.v1.Health over a HealthStatus.
 */
export function healthService(status: HealthStatus): ServiceImpl<typeof Health> {
  const response = (service: string): HealthCheckResponse =>
    create(HealthCheckResponseSchema, { status: status.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
  return {
    check(req) {
      const s = status.get(req.service);
      if (s === undefined) {
        // The health standard asks for NOT_FOUND on Check of an unknown service.
        throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      }
      return create(HealthCheckResponseSchema, { status: s });
    },
    async *watch(req, ctx) {
      let last = response(req.service).status;
      yield response(req.service);
      for await (const _ of status.changes(ctx.signal)) {
        const now = response(req.service);
        if (now.status !== last) {
          last = now.status;
          yield now;
        }
      }
    },
  };
}
