import { readFileSync, writeFileSync } from "node:fs";

const ticksPerSecond = 100; // USER_HZ on Linux

/**
 * cpuSeconds reads a process's user+system CPU time from /proc/PID/stat.
 */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return NaN;
  }
}

/**
 * memory reads a process's resident set (VmRSS) and its peak (VmHWM), in bytes.
 */
export function memory(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb("VmRSS"), peak: kb("VmHWM") };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

/**
 * resetPeak resets a process's peak RSS (VmHWM) to its current RSS, so the
 * peak of each scenario can be read on its own; false where the kernel or
 * permissions do not allow it (the peak then spans the process's life).
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Usage is the CPU and memory a set of processes used over an interval.
 */
export interface Usage {
  /** CPU time over wall time: 1.0 is one core busy all the time. */
  cpuCores: number;
  /** The sum of the processes' peak RSS in the interval, in MiB. */
  peakRssMiB: number;
}

/**
 * UsageMeter measures processes over an interval: `start` then `stop`.
 */
export class UsageMeter {
  private cpu0 = 0;
  private t0 = 0;

  constructor(private readonly pids: number[]) {}

  start(): void {
    for (const pid of this.pids) resetPeak(pid);
    this.cpu0 = this.pids.reduce((s, p) => s + cpuSeconds(p), 0);
    this.t0 = performance.now();
  }

  stop(): Usage {
    const cpu = this.pids.reduce((s, p) => s + cpuSeconds(p), 0) - this.cpu0;
    const wall = (performance.now() - this.t0) / 1000;
    const peak = this.pids.reduce((s, p) => s + memory(p).peak, 0);
    return { cpuCores: wall > 0 ? cpu / wall : NaN, peakRssMiB: peak / (1 << 20) };
  }
}
