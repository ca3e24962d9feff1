/**
 * The loop every background worker runs (outbox, jobs, delivery, inbound events): one drain at a
 * time, started by a timer and by kicks; a kick while a drain runs asks for one more right after
 * it (kicks coalesce). Stopping ends the timer, ignores kicks from then on and waits for the drain
 * under way. A drain that throws is reported to `onError` and the loop carries on.
 */
export class DrainLoop {
  private running: Promise<void> | null = null;
  private again = false;
  private stoppedFlag = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly drain: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** True once `stop()` was called (until the next `start`): long drains check it between steps. */
  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** The drain under way, if any. */
  get current(): Promise<void> | null {
    return this.running;
  }

  /** Drains now and every `pollMs` (the timer does not keep the process alive). */
  start(pollMs: number): void {
    this.stoppedFlag = false;
    this.timer = setInterval(() => this.kick(), pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Drains now, or right after the drain under way. */
  kick(): void {
    if (this.stoppedFlag) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .then(() => undefined)
      .catch(this.onError)
      .finally(() => {
        this.running = null;
        if (this.again && !this.stoppedFlag) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Ends the timer, ignores kicks, and resolves once the drain under way is over. */
  async stop(): Promise<void> {
    this.stoppedFlag = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
