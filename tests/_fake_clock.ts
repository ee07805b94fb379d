import type { Clock } from "../deadline.ts";

/** A clock that moves only when told, counting the timers it arms. */
export class FakeClock implements Clock {
  time = 1_000_000;
  armed = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    this.armed++;
    const id = this.#next++;
    this.#timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    while (true) {
      const due = [...this.#timers].filter(([, t]) => t.at <= end).sort((a, b) =>
        a[1].at - b[1].at
      );
      if (due.length === 0) break;
      const [id, timer] = due[0]!;
      this.#timers.delete(id);
      this.time = Math.max(this.time, timer.at);
      timer.fn();
    }
    this.time = end;
  }
}
