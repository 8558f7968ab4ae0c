import { describe, expect, it } from "vitest";
import { guardIterable } from "./guarded-iterable.js";

/** source yields `values`, then fails with `failure` if given; `returned` counts return() calls. */
function source(values: number[], failure?: Error) {
  const state = { returned: 0 };
  const iterable: AsyncIterable<number> = {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        next: () => {
          if (i < values.length) return Promise.resolve({ done: false, value: values[i++] as number });
          return failure !== undefined ? Promise.reject(failure) : Promise.resolve({ done: true, value: undefined });
        },
        return: () => {
          state.returned++;
          return Promise.resolve({ done: true, value: undefined });
        },
      };
    },
  };
  return { iterable, state };
}

async function collect(it: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe("guardIterable", () => {
  it("yields the source's values and runs the end check once it is done", async () => {
    let ended = 0;
    const it = guardIterable(source([1, 2, 3]).iterable, { end: () => void ended++ });
    expect(await collect(it)).toEqual([1, 2, 3]);
    expect(ended).toBe(1);
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(ended).toBe(1);
  });

  it("fails with what the end check throws, mapped", async () => {
    const it = guardIterable(source([1]).iterable, {
      end: () => {
        throw new Error("bad trailer");
      },
      error: (e) => new Error(`mapped: ${(e as Error).message}`),
    });
    await expect(collect(it)).rejects.toThrow("mapped: bad trailer");
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("maps the source's error, and is finished after it", async () => {
    const it = guardIterable(source([1, 2], new Error("reset")).iterable, { error: (e) => new Error(`mapped: ${(e as Error).message}`) });
    expect(await it.next()).toEqual({ done: false, value: 1 });
    expect(await it.next()).toEqual({ done: false, value: 2 });
    await expect(it.next()).rejects.toThrow("mapped: reset");
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("passes an early return to the source once iteration started, as yield* does", async () => {
    const started = source([1, 2, 3]);
    for await (const v of guardIterable(started.iterable, {})) if (v === 1) break;
    expect(started.state.returned).toBe(1);
    const unstarted = source([1]);
    await guardIterable(unstarted.iterable, {}).return?.();
    expect(unstarted.state.returned).toBe(0);
  });
});
