/**
 * IterableGuard is what guardIterable does around a source's iteration.
 */
export interface IterableGuard {
  /** Runs when the source is done; what it throws is the iteration's error. */
  end?: () => void;
  /** Maps an error of the source (or of `end`) to the one the iteration fails with. */
  error?: (e: unknown) => unknown;
}

/**
 * guardIterable iterates `source` as an async generator would with
 * `try { yield* source; guard.end() } catch (e) { throw guard.error(e) }`:
 * the same values, end check and errors, and `return()` reaching the
 * source once iteration started. It costs one promise per message where
 * each async generator layer costs several (and, with async hooks on, a
 * hook call for each): an agent's reply passes two such layers per
 * message on every turn.
 */
export function guardIterable<T>(source: AsyncIterable<T>, guard: IterableGuard): AsyncIterableIterator<T> {
  let it: AsyncIterator<T> | undefined;
  let finished = false;
  const fail = (e: unknown): never => {
    finished = true;
    throw guard.error !== undefined ? guard.error(e) : e;
  };
  const settle = (r: IteratorResult<T>): IteratorResult<T> => {
    if (r.done === true) {
      finished = true;
      try {
        guard.end?.();
      } catch (e) {
        return fail(e);
      }
      return { done: true, value: undefined };
    }
    return r;
  };
  const self: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => self,
    next: () => {
      if (finished) return Promise.resolve({ done: true, value: undefined });
      try {
        it ??= source[Symbol.asyncIterator]();
        return it.next().then(settle, fail);
      } catch (e) {
        finished = true;
        return Promise.reject(guard.error !== undefined ? guard.error(e) : e);
      }
    },
    return: (value?: unknown) => {
      const started = it !== undefined && !finished;
      finished = true;
      const done: IteratorResult<T> = { done: true, value: value as T };
      if (!started || it?.return === undefined) return Promise.resolve(done);
      return it.return().then(() => done, fail);
    },
  };
  return self;
}
