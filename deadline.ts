/**
 * Deadline: Go's `SetDeadline` as a value. An absolute, movable point in time
 * that fails the operations waiting on it when it passes.
 *
 * @module
 */

import { describe } from "./_check.ts";
import { cancel, MAX_TIMER_MS, schedule, type TimerEntry } from "./_io/timers.ts";

/** A time as {@linkcode Deadline.set} takes it: a `Date`, epoch milliseconds, or `null` for none. */
export type DeadlineTime = Date | number | null;

/** The clock a {@linkcode Deadline} reads and arms its timer with; tests inject a fake one. */
export interface Clock {
  /** The current time in epoch milliseconds. */
  now(): number;
  /**
   * A monotonic time in milliseconds, finer than `now()`; a deadline is
   * measured on it from the moment it is set, as Go's poller does.
   * @default {now}
   */
  monotonic?(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for {@linkcode Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer made by {@linkcode Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/** Options for {@linkcode Deadline}. */
export interface DeadlineOptions {
  /** The clock to read and arm timers with. @default {the system clock, with timers unref'd} */
  clock?: Clock;
}

const systemClock: Clock = {
  now: Date.now,
  monotonic(): number {
    return performance.now();
  },
  setTimeout(fn: () => void, ms: number): unknown {
    return schedule(fn, ms);
  },
  clearTimeout(handle: unknown): void {
    cancel(handle as TimerEntry);
  },
};

/**
 * Converts a {@linkcode DeadlineTime} to epoch milliseconds, 0 meaning none.
 *
 * @param t The time: a `Date`, epoch milliseconds, or `null`/`0` for none.
 * @param where The method, as error messages name it.
 * @returns Epoch milliseconds, or 0 for no deadline.
 * @throws {TypeError} If `t` is not a `Date`, number or `null`.
 * @throws {RangeError} If `t` is NaN, infinite or an invalid `Date`.
 *
 * @example
 * ```ts
 * import { toDeadlineMs } from "./deadline.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(toDeadlineMs(null), 0);
 * assert.equal(toDeadlineMs(new Date(5000)), 5000);
 * assert.throws(() => toDeadlineMs(NaN), RangeError);
 * ```
 */
export function toDeadlineMs(t: DeadlineTime, where = "Deadline.set"): number {
  if (t === null) return 0;
  let ms: number;
  if (t instanceof Date) ms = t.getTime();
  else if (typeof t === "number") ms = t;
  else {
    throw new TypeError(
      `${where} takes a Date, epoch milliseconds, or null: received ${describe(t)}`,
    );
  }
  if (!Number.isFinite(ms)) {
    throw new RangeError(
      `${where} takes a finite time: received ${
        t instanceof Date ? "an invalid Date" : describe(t)
      }`,
    );
  }
  // 0 (as null) is Go's zero time: no deadline. Any other past time has passed.
  return ms;
}

/**
 * Epoch milliseconds below this (March 1973, about 3 years as a duration)
 * are taken for a duration passed by mistake. Go's "long ago" deadline
 * (1977) is above it.
 */
const EARLIEST_DEADLINE = 1e11;

/**
 * Checks a deadline as a public setter takes it, before anything else (a
 * closed conn included): a TypeError or RangeError for what is not a time
 * (see {@linkcode toDeadlineMs}), and a RangeError for a number that is
 * surely a duration passed where a deadline goes (`setReadDeadline(5000)` would mean 5 s after 1970, long
 * passed): a non-zero number of epoch milliseconds before March 1973.
 * A `Date` is taken as it is.
 */
export function checkAbsolute(t: DeadlineTime, where: string): void {
  toDeadlineMs(t, where); // the type and finiteness first: a TypeError or RangeError
  if (typeof t === "number" && t !== 0 && Math.abs(t) < EARLIEST_DEADLINE) {
    throw new RangeError(
      `${where} takes an absolute time (a Date or epoch milliseconds): received ${
        describe(t)
      }, a time in ${new Date(t).getUTCFullYear()}; for a duration, pass Date.now() ${
        t < 0 ? "-" : "+"
      } ${Math.abs(t)}`,
    );
  }
}

/**
 * Deadline is an absolute, movable time limit shared by the operations that
 * wait on it, as Go's `SetReadDeadline` / `SetWriteDeadline`:
 *
 * - {@linkcode Deadline.set} takes an absolute time; `null` or `0` means none.
 * - It applies to operations already waiting and to later ones. Moving it
 *   (later, earlier, or into the past) takes effect on waiting operations at
 *   once; a time already passed fails them synchronously.
 * - After it passes, every new operation fails until it is moved; moving it
 *   into the future makes the conn usable again.
 * - "No deadline" (0) and "deadline now" are never the same value.
 *
 * It costs no timer while nothing waits (a handed-out `signal` counts as
 * waiting for good: it is for tools that need one). While something waits it holds at
 * most one timer, which it keeps when the deadline moves later (it re-arms
 * when it fires early), so moving the deadline on every operation, as Go
 * servers do, costs a field store. On the system clock that timer is an
 * entry in one heap shared by every deadline of the process, behind a single
 * runtime timer, as Go's runtime does; it does not keep the process alive by
 * itself (the operation waiting on it does). {@linkcode Deadline.dispose}
 * releases it; a conn does that on close.
 *
 * @example A signal that aborts when the deadline passes
 * ```ts
 * import { Deadline } from "./deadline.ts";
 * import assert from "node:assert/strict";
 *
 * using deadline = new Deadline();
 * deadline.set(Date.now() + 60_000);
 * const signal = deadline.signal;
 * assert.equal(signal.aborted, false);
 * deadline.set(Date.now() - 1); // moved into the past: fires at once
 * assert.equal(signal.aborted, true);
 * assert.equal(signal.reason.name, "TimeoutError");
 * deadline.set(null);
 * assert.equal(deadline.expired, false);
 * ```
 */
export class Deadline implements Disposable {
  #clock: Clock;
  #at = 0; // epoch ms as set; 0 = none
  #due = 0; // when it passes, on the monotonic clock; meaningful while #at !== 0
  #one: (() => void) | null = null; // the usual single waiter, kept out of the set
  #waiters: Set<() => void> | null = null; // more waiters; made when a second one comes
  #controller: AbortController | null = null;
  #timer: unknown = null;
  #fired = false; // the timer or set() saw the deadline pass; cleared when it moves
  #fresh = false; // set in the running task, before its first await: it cannot have passed
  #timerAt = 0; // when #timer fires, on the monotonic clock; meaningful while #timer !== null

  /**
   * Makes a deadline that is not set.
   *
   * @param options The clock to use.
   */
  constructor(options: DeadlineOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  /** The deadline in epoch milliseconds, or 0 when none is set. */
  get time(): number {
    return this.#at;
  }

  /** True when a deadline is set and has passed. */
  get expired(): boolean {
    if (this.#at === 0) return false;
    if (this.#fired) return true;
    if (this.#fresh) return false;
    // A timer armed for no later than the deadline will fire it: until then
    // it has not passed, as Go's poller sees it. Without one, read the clock.
    if (this.#timer !== null && this.#timerAt <= this.#due) return false;
    return this.#mono() >= this.#due;
  }

  /**
   * An AbortSignal that aborts, with a `"TimeoutError"` DOMException, when the
   * deadline passes. After it has aborted, moving the deadline hands out a new
   * signal; clearing the deadline leaves a pending signal unaborted.
   */
  get signal(): AbortSignal {
    if (this.#controller === null || (this.#controller.signal.aborted && !this.expired)) {
      this.#controller = new AbortController();
    }
    if (this.expired) this.#abortSignal();
    else if (this.#at !== 0) this.#arm();
    return this.#controller.signal;
  }

  /**
   * Sets, moves or clears the deadline. Operations already waiting see the new
   * value at once: a time that has passed fails them before `set` returns.
   *
   * @param t The time: a `Date`, epoch milliseconds, or `null`/`0` for none.
   * @param where The method, as error messages name it.
   * @throws {TypeError} If `t` is not a `Date`, number or `null`.
   * @throws {RangeError} If `t` is NaN, infinite or an invalid `Date`.
   */
  set(t: DeadlineTime, where?: string): void {
    this.#at = toDeadlineMs(t, where);
    this.#fired = false;
    if (this.#at === 0) return; // a stale timer finds nothing to do when it fires
    // As Go's poller: now on the monotonic clock, plus how far ahead the time
    // is on the wall clock, so a time computed from Date.now() means its
    // offset, 10 µs included. The wall clock counts whole milliseconds: a
    // time less than one behind it may be "now" as its caller read the
    // clock, so it passes at the next await rather than at once.
    const ahead = this.#at - this.#clock.now();
    if (ahead <= -1) {
      this.#fire();
      return;
    }
    this.#due = this.#mono() + (ahead > 0 ? ahead : 0);
    // As in Go, where the timer cannot fire before the goroutine that set it
    // parks: a time still ahead cannot pass before the next await, so a write
    // issued right after setting a 10 µs deadline starts, and the kernel
    // takes what it can.
    if (!this.#fresh) {
      this.#fresh = true;
      queueMicrotask(() => this.#fresh = false);
    }
    if (this.#waited()) this.#arm();
  }

  /**
   * Calls `onExpire` once when the deadline passes, unless
   * {@linkcode Deadline.unwatch} is called first. If it has already passed,
   * `onExpire` is called before `watch` returns.
   *
   * @param onExpire What to call when the deadline passes.
   */
  watch(onExpire: () => void): void {
    if (this.expired) {
      onExpire();
      return;
    }
    if (this.#one === null) this.#one = onExpire;
    else (this.#waiters ??= new Set()).add(onExpire);
    if (this.#at !== 0) this.#arm();
  }

  /**
   * Stops watching; `onExpire` will not be called.
   *
   * @param onExpire A function given to {@linkcode Deadline.watch}.
   */
  unwatch(onExpire: () => void): void {
    if (this.#one === onExpire) this.#one = null;
    else this.#waiters?.delete(onExpire);
  }

  /** Releases the timer, if one is armed. The deadline itself stays as set. */
  dispose(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Same as {@linkcode Deadline.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Makes sure a timer fires no later than the deadline. */
  #arm(): void {
    if (this.#timer !== null && this.#timerAt <= this.#due) return;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    const mono = this.#mono();
    const delay = Math.min(Math.max(this.#due - mono, 0), MAX_TIMER_MS);
    this.#timerAt = mono + delay;
    this.#timer = this.#clock.setTimeout(() => this.#onTimer(), delay);
  }

  #onTimer(): void {
    this.#timer = null;
    if (this.#at === 0) return;
    if (this.#mono() >= this.#due) this.#fire();
    else if (this.#waited()) this.#arm();
  }

  #mono(): number {
    return this.#clock.monotonic?.() ?? this.#clock.now();
  }

  /** Is anything waiting on the deadline (a watcher or a handed-out signal)? */
  #waited(): boolean {
    return this.#one !== null || (this.#waiters?.size ?? 0) > 0 || this.#controller !== null;
  }

  #fire(): void {
    this.#fired = true;
    const waiters = this.#waiters === null ? [] : [...this.#waiters];
    if (this.#one !== null) waiters.unshift(this.#one);
    this.#one = null;
    this.#waiters?.clear();
    for (const onExpire of waiters) onExpire();
    this.#abortSignal();
  }

  #abortSignal(): void {
    const controller = this.#controller;
    if (controller === null || controller.signal.aborted) return;
    controller.abort(new DOMException("Deadline exceeded", "TimeoutError"));
  }
}
