import { useEffect, useState } from "preact/hooks";
import { errorText } from "./format.js";

/**
 * Loaded is the state of data read from the server.
 */
export type Loaded<T> = { state: "loading" } | { state: "ok"; value: T } | { state: "error"; message: string };

/**
 * usePolled reads `load` now, whenever `deps` change, and every `everyMs`
 * (0: once), so lists follow the server without a reload. A failed read
 * shows its error and is tried again on the next tick.
 */
export function usePolled<T>(load: () => Promise<T>, deps: unknown[], everyMs = 0): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = () => {
      load().then(
        (value) => live && setLoaded({ state: "ok", value }),
        (e: unknown) => live && setLoaded({ state: "error", message: errorText(e) }),
      ).finally(() => {
        if (live && everyMs > 0) timer = setTimeout(run, everyMs);
      });
    };
    run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return [loaded, () => setTick((n) => n + 1)];
}
