/** A tiny typed event emitter (no Node `events`: the client runs in browsers too). */
type ArgsOf<F> = F extends (...args: infer A) => void ? A : never;

export class Emitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, Set<(...args: any[]) => void>>();

  /** Registers a handler; returns the function that removes it. */
  on<K extends keyof Events>(event: K, handler: Events[K]): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler as (...args: any[]) => void);
    return () => set.delete(handler as (...args: any[]) => void);
  }

  protected emit<K extends keyof Events>(event: K, ...args: ArgsOf<Events[K]>): void {
    for (const h of [...(this.handlers.get(event) ?? [])]) {
      try {
        h(...args);
      } catch (e) {
        // A handler's failure must not stop the others or the client's bookkeeping.
        console.error(e);
      }
    }
  }
}
