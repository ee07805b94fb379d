/**
 * Fifo: turns handed out one at a time, in the order they were asked for.
 * The lock behind a conn's reads, a listener's accepts and every bufio
 * reader's and writer's slow paths. Internal, shared by every package.
 *
 * @module
 */

import type { Deadline } from "./deadline.ts";
import { CLOSED, DEADLINE, Interrupt } from "./_wait.ts";

interface Waiter {
  resolve(): void;
  reject(why: Interrupt): void;
  done: boolean; // has its turn, or left the line
}

/**
 * Fifo hands out one turn at a time, first come first served. A waiter whose
 * deadline passes or whose signal fires leaves the line with an
 * {@linkcode Interrupt}; {@linkcode Fifo.close} fails every waiter.
 */
export class Fifo {
  #busy = false; // a turn is held
  #line: (Waiter | undefined)[] = [];
  #head = 0; // #line[#head..] are waiting; some may be done (left the line)
  #waiting = 0; // waiters still in line

  /** True while a turn is held. */
  get locked(): boolean {
    return this.#busy;
  }

  /** Turns held or waited for. */
  get depth(): number {
    return this.#waiting + (this.#busy ? 1 : 0);
  }

  /** Takes the turn if it is free. */
  tryAcquire(): boolean {
    if (this.#busy) return false;
    this.#busy = true;
    return true;
  }

  /**
   * Waits for the turn. Rejects with an {@linkcode Interrupt} if the deadline
   * passes, the signal fires or {@linkcode Fifo.close} is called first.
   */
  acquire(deadline?: Deadline, signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const leave = (why: Interrupt): void => {
        if (waiter.done) return;
        waiter.done = true;
        this.#waiting--;
        waiter.reject(why);
      };
      const onExpire = (): void => leave(DEADLINE);
      const onAbort = (): void => leave(new Interrupt("abort", signal!.reason));
      const cleanup = (): void => {
        deadline?.unwatch(onExpire);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        done: false,
        resolve: () => {
          cleanup();
          resolve();
        },
        reject: (why) => {
          cleanup();
          reject(why);
        },
      };
      this.#line.push(waiter);
      this.#waiting++;
      deadline?.watch(onExpire);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Gives the turn to the next waiter in line, or frees it. */
  release(): void {
    while (this.#head < this.#line.length) {
      const waiter = this.#line[this.#head]!;
      this.#line[this.#head++] = undefined;
      if (waiter.done) continue;
      waiter.done = true;
      this.#waiting--;
      this.#compact();
      waiter.resolve();
      return; // the turn passes straight to the waiter: #busy stays true
    }
    this.#compact();
    this.#busy = false;
  }

  /** Fails every waiter with the closed interrupt. The holder keeps its turn. */
  close(): void {
    while (this.#head < this.#line.length) {
      const waiter = this.#line[this.#head++]!;
      if (waiter.done) continue;
      waiter.done = true;
      this.#waiting--;
      waiter.reject(CLOSED);
    }
    this.#compact();
  }

  #compact(): void {
    if (this.#head === this.#line.length) {
      this.#line.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#line.length) {
      this.#line = this.#line.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** Runs `op` in the lock's turn, after every operation queued before it. */
export async function inTurn<T>(lock: Fifo, op: () => Promise<T>): Promise<T> {
  if (!lock.tryAcquire()) await lock.acquire();
  try {
    return await op();
  } finally {
    lock.release();
  }
}
