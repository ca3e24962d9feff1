/**
 * One task at a time, in arrival order. Colyseus does not await message handlers, so a room
 * keeps its own lane: an action is decided, committed and applied before the next one starts.
 */
export class SerialLane {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(task, task);
    this.tail = result.then(
      () => this.pending--,
      () => this.pending--,
    );
    return result;
  }

  /** Resolves once every task queued so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  get size(): number {
    return this.pending;
  }
}
