/**
 * InFlight counts running turns so a draining server can finish them
 * before it exits, and refuses new ones once draining began.
 */
export class InFlight {
  private count = 0;
  private draining = false;
  private idle: Array<() => void> = [];

  /**
   * begin registers a turn and returns the function that ends it, or
   * undefined when the server is draining.
   */
  begin(): (() => void) | undefined {
    if (this.draining) return undefined;
    this.count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.count--;
      if (this.count === 0) for (const resolve of this.idle.splice(0)) resolve();
    };
  }

  get size(): number {
    return this.count;
  }

  /**
   * drain refuses new turns from now on and resolves once none is running.
   */
  drain(): Promise<void> {
    this.draining = true;
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}
