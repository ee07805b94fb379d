/**
 * Waiting, cut short: for a runtime op or for a turn in line (a
 * {@linkcode Fifo}, the lock behind a conn's reads, a listener's accepts and
 * every bufio reader's and writer's slow paths), until a deadline passes, an
 * AbortSignal fires or the owner closes. Why a wait ended
 * early travels as an {@linkcode Interrupt}; `toNetError` in errors.ts turns
 * it into the caller's error. Internal.
 *
 * @module
 */

import type { Deadline } from "../deadline.ts";

/** Why a wait ended early: a deadline passed, a signal fired, or the owner closed. */
export class Interrupt {
  /** What ended the wait. */
  readonly kind: "deadline" | "abort" | "closed";
  /** The signal's reason, untouched, for `"abort"`. */
  readonly reason: unknown;

  /**
   * @param kind What ended the wait.
   * @param reason The signal's reason, for `"abort"`.
   */
  constructor(kind: "deadline" | "abort" | "closed", reason?: unknown) {
    this.kind = kind;
    this.reason = reason;
  }
}

/** The interrupt of a passed deadline. */
export const DEADLINE: Interrupt = new Interrupt("deadline");
/** The interrupt of the owner's close. */
export const CLOSED: Interrupt = new Interrupt("closed");

/**
 * The interrupt already due before an operation starts: the deadline has
 * passed or the signal has fired. Else undefined.
 */
export function dueInterrupt(deadline: Deadline, signal?: AbortSignal): Interrupt | undefined {
  if (deadline.expired) return DEADLINE;
  if (signal?.aborted) return new Interrupt("abort", signal.reason);
  return undefined;
}

/**
 * Settles like `op`, unless the deadline passes or the signal fires first:
 * then it rejects with an {@linkcode Interrupt} and `op` is left running for
 * the caller to adopt. The deadline is watched even when unset, so setting it
 * later takes effect.
 *
 * With `defer`, an interrupt is held back until `defer` calls back (a
 * timer turn) and applies only if `op` has still not settled: a runtime op
 * that the kernel completed without waiting settles within the turn it was
 * issued in, so a deadline never ends an op that did not wait, as in Go.
 */
export function waitFor<T>(
  op: Promise<T>,
  deadline: Deadline,
  signal?: AbortSignal,
  defer?: (fn: () => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const interrupt = (why: Interrupt): void => {
      cleanup();
      if (defer === undefined) reject(why);
      else defer(() => settled || reject(why));
    };
    const onExpire = (): void => interrupt(DEADLINE);
    const onAbort = (): void => interrupt(new Interrupt("abort", signal!.reason));
    const cleanup = (): void => {
      deadline.unwatch(onExpire);
      signal?.removeEventListener("abort", onAbort);
    };
    op.then((value) => {
      settled = true;
      cleanup();
      resolve(value);
    }, (error) => {
      settled = true;
      cleanup();
      reject(error);
    });
    if (signal !== undefined) {
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) return onAbort(); // fired already: the listener never will
    }
    deadline.watch(onExpire);
  });
}

/**
 * Leftover holds a runtime op that a deadline or signal left running (Deno
 * cannot cancel one), so that the next operation adopts it instead of
 * starting another: a read's bytes go to the next read, an accepted conn to
 * the next accept. One home for "adopt what a deadline left running".
 */
export class Leftover<T> {
  #op: Promise<T> | null = null;

  /** The op left running, or a new one from `start`. */
  adopt(start: () => Promise<T>): Promise<T> {
    return this.#op ??= start();
  }

  /** The op has settled and its outcome was taken: nothing is left. */
  clear(): void {
    this.#op = null;
  }

  /** The op left running, if any. */
  get op(): Promise<T> | null {
    return this.#op;
  }

  /** Resolves once no op is left running (whatever its outcome). */
  async settled(): Promise<void> {
    await this.#op?.then(() => {}, () => {});
  }
}

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
  #line = new Line<Waiter>();
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
      if (signal !== undefined) {
        signal.addEventListener("abort", onAbort, { once: true });
        if (signal.aborted) return onAbort(); // fired already: the listener never will
      }
      deadline?.watch(onExpire);
    });
  }

  /** Gives the turn to the next waiter in line, or frees it. */
  release(): void {
    const waiter = this.#line.shift();
    if (waiter === undefined) {
      this.#busy = false;
      return;
    }
    waiter.done = true;
    this.#waiting--;
    waiter.resolve(); // the turn passes straight to the waiter: #busy stays true
  }

  /** Fails every waiter with the closed interrupt. The holder keeps its turn. */
  close(): void {
    for (const waiter of this.#line.drain()) {
      waiter.done = true;
      this.#waiting--;
      waiter.reject(CLOSED);
    }
  }
}

/**
 * Line is a first-come-first-served line of waiters. A waiter that leaves
 * early is marked `done` by its owner and skipped; the array is compacted
 * as the head moves, so a long-lived line does not grow.
 */
export class Line<T extends { done: boolean }> {
  #items: (T | undefined)[] = []; // #items[#head..] are in line; some may be done
  #head = 0;

  /** Puts `item` at the end of the line. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The first item not done, left in line. */
  peek(): T | undefined {
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head]!;
      if (!item.done) return item;
      this.#items[this.#head++] = undefined;
    }
    this.#compact();
    return undefined;
  }

  /** The first item not done, taken out of line. */
  shift(): T | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    this.#items[this.#head++] = undefined;
    this.#compact();
    return item;
  }

  /** Takes every item not done out of line, in order. */
  drain(): T[] {
    const items: T[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i];
      if (item !== undefined && !item.done) items.push(item);
    }
    this.#items.length = 0;
    this.#head = 0;
    return items;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
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

/** Counts below this have their resolved promise cached. */
const CACHED_COUNTS = 4096;
const resolvedCounts: Promise<number>[] = [];

/**
 * A promise already resolved with `n`: shared for small counts, so a fast
 * path that completes at once (a write the kernel or a buffer took whole, a
 * read served from a buffer) allocates no promise per call.
 */
export function resolvedCount(n: number): Promise<number> {
  if (n >= CACHED_COUNTS) return Promise.resolve(n);
  return resolvedCounts[n] ??= Promise.resolve(n);
}
