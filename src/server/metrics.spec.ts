import { describe, expect, it } from "vitest";
import { Metrics } from "./metrics.js";

describe("Metrics", () => {
  it("reports the turns running now as switchboard_turns_in_flight, read when scraped", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    expect(await metrics.registry.getSingleMetricAsString("switchboard_turns_in_flight")).toMatch(/^switchboard_turns_in_flight 0$/m);
    let running = 3;
    metrics.countTurnsInFlight(() => running);
    expect(await metrics.registry.getSingleMetricAsString("switchboard_turns_in_flight")).toMatch(/^switchboard_turns_in_flight 3$/m);
    running = 1;
    expect(await metrics.registry.getSingleMetricAsString("switchboard_turns_in_flight")).toMatch(/^switchboard_turns_in_flight 1$/m);
  });
});
