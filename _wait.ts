/**
 * Waiting, cut short: for a runtime op or for a turn in a FIFO, until a
 * deadline passes, an AbortSignal fires or the owner closes. Internal.
 *
 * @module
 */

import type { Deadline } from "./deadline.ts";

/** Why a wait ended early. */
export type Interrupt =
  | { readonly kind: "deadline" }
  | { readonly kind: "abort"; readonly reason: unknown }
  | { readonly kind: "closed" };

const DEADLINE: Interrupt = Object.freeze({ kind: "deadline" });
const CLOSED: Interrupt = Object.freeze({ kind: "closed" });

/** Is `e` an {@linkcode Interrupt} (rather than an error from the op)? */
export function isInterrupt(e: unknown): e is Interrupt {
  return e === DEADLINE || e === CLOSED || (e as { kind?: unknown } | null)?.kind === "abort";
}

/** The interrupt that ends a wait when the owner closes. */
export const CLOSED_INTERRUPT: Interrupt = CLOSED;

/**
 * The interrupt that is already due before waiting starts: the deadline has
 * passed or the signal has fired. Else undefined.
 */
export function dueInterrupt(deadline: Deadline, signal?: AbortSignal): Interrupt | undefined {
  if (deadline.expired) return DEADLINE;
  if (signal?.aborted) return { kind: "abort", reason: signal.reason };
  return undefined;
}

/**
 * Settles like `op`, unless the deadline passes or the signal fires first:
 * then it rejects with an {@linkcode Interrupt} and `op` is left running.
 * The deadline is watched even when unset, so setting it later takes effect.
 */
export function waitFor<T>(op: Promise<T>, deadline: Deadline, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) {
    return new Promise<T>((resolve, reject) => {
      const onExpire = (): void => reject(DEADLINE);
      op.then((value) => {
        deadline.unwatch(onExpire);
        resolve(value);
      }, (error) => {
        deadline.unwatch(onExpire);
        reject(error);
      });
      deadline.watch(onExpire);
    });
  }
  return new Promise<T>((resolve, reject) => {
    const onExpire = (): void => {
      cleanup();
      reject(DEADLINE);
    };
    const onAbort = (): void => {
      cleanup();
      reject({ kind: "abort", reason: signal!.reason });
    };
    const cleanup = (): void => {
      deadline.unwatch(onExpire);
      signal?.removeEventListener("abort", onAbort);
    };
    op.then((value) => {
      cleanup();
      resolve(value);
    }, (error) => {
      cleanup();
      reject(error);
    });
    deadline.watch(onExpire);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface Waiter {
  resolve(): void;
  reject(interrupt: Interrupt): void;
  done: boolean;
}

/**
 * Fifo hands out turns, one at a time, in the order they were asked for: the
 * lock behind each conn's reads, writes and each listener's accepts. A waiter
 * whose deadline passes or whose signal fires leaves the line.
 */
export class Fifo {
  #busy = false;
  #line: Waiter[] = [];
  #head = 0; // #line[#head..] are waiting; some may be done (left the line)
  #waiting = 0; // waiters still in line

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
  acquire(deadline: Deadline, signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        done: false,
        resolve: () => {
          cleanup();
          resolve();
        },
        reject: (interrupt) => {
          cleanup();
          reject(interrupt);
        },
      };
      const leave = (interrupt: Interrupt): void => {
        if (waiter.done) return;
        waiter.done = true;
        this.#waiting--;
        waiter.reject(interrupt);
      };
      const onExpire = (): void => leave(DEADLINE);
      const onAbort = (): void => leave({ kind: "abort", reason: signal!.reason });
      const cleanup = (): void => {
        deadline.unwatch(onExpire);
        signal?.removeEventListener("abort", onAbort);
      };
      this.#line.push(waiter);
      this.#waiting++;
      deadline.watch(onExpire);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Gives the turn to the next waiter in line, or frees it. */
  release(): void {
    if (this.#head === this.#line.length && this.#head === 0) {
      this.#busy = false;
      return;
    }
    while (this.#head < this.#line.length) {
      const waiter = this.#line[this.#head]!;
      this.#line[this.#head++] = undefined as unknown as Waiter;
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
