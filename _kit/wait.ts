/**
 * Waits bounded in time, for the tests, the probe and the bench: a promise
 * raced against a limit, the must-return / must-not-return pair of a timing
 * test, Go's growing timeout for flaky timing, and a count watched until it
 * stops moving. Every timer here is cleared before its function returns, so
 * Deno's op sanitizer stays quiet. Private to the repository.
 *
 * @module
 */

import assert from "node:assert/strict";

/** What {@linkcode within} gives for a promise still pending. */
export const PENDING: unique symbol = Symbol("pending");

/**
 * Settles like `p`, or with {@linkcode PENDING} if `p` has not settled within
 * `ms`. The timer is always cleared.
 */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof PENDING> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timer = new Promise<typeof PENDING>((resolve) => {
    id = setTimeout(() => resolve(PENDING), ms);
  });
  try {
    return await Promise.race([p, timer]);
  } finally {
    clearTimeout(id);
  }
}

/**
 * Whether `p` settles, resolved or rejected, within `ms`; `p` is marked
 * handled and left running when it does not.
 */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return await within(p.then(() => true, () => true), ms) !== PENDING;
}

/**
 * Asserts that `p` is still pending after `ms`: the must-not-return half of
 * a timing pair. Marks `p` handled; await it later for its outcome.
 */
export async function mustNotSettle(p: Promise<unknown>, ms: number, what = "it"): Promise<void> {
  const outcome = await within(p.then((v) => ({ v }), (e) => ({ e })), ms);
  if (outcome !== PENDING) {
    const how = "e" in outcome
      ? `rejected with ${String(outcome.e)}`
      : `resolved with ${String(outcome.v)}`;
    assert.fail(`${what} must not settle within ${ms} ms, but ${how}`);
  }
}

/**
 * Awaits `p`, failing instead of hanging if `p` has not settled within
 * `limitMs`: the must-return half of a timing pair.
 */
export async function mustSettle<T>(p: Promise<T>, limitMs = 5000, what = "it"): Promise<T> {
  const outcome = await within(p, limitMs);
  if (outcome === PENDING) assert.fail(`${what} must settle within ${limitMs} ms`);
  return outcome;
}

/**
 * Awaits `p`, asserts it rejects with an instance of `type` within
 * `limitMs`, and returns the error for further checks.
 */
export async function mustReject<E extends Error>(
  p: Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: abstract new (...args: any[]) => E,
  limitMs = 5000,
  what = "it",
): Promise<E> {
  let value: unknown;
  try {
    value = await mustSettle(p, limitMs, what);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.ok(e instanceof type, `${what} must reject with ${type.name}, got ${String(e)}`);
    return e;
  }
  return assert.fail(`${what} must reject with ${type.name}, but resolved with ${String(value)}`);
}

/** The error `p` rejects with, or undefined when it resolves. */
export function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e: unknown) => e);
}

/** Options for {@linkcode eventually}. */
export interface EventuallyOptions {
  /** The first timeout, in ms. @default {20} */
  start?: number;
  /** The largest timeout; the attempt with it is the last. @default {2000} */
  cap?: number;
}

/**
 * Go's habit for flaky timing: runs `attempt(ms)` with a timeout that starts
 * small and grows by 5/4 up to `cap`, and returns the first result that does
 * not throw. The attempt with the cap is the last: its error is thrown.
 */
export async function eventually<T>(
  attempt: (ms: number) => Promise<T>,
  options: EventuallyOptions = {},
): Promise<T> {
  const { start = 20, cap = 2000 } = options;
  for (let ms = start;; ms = Math.min(Math.ceil(ms * 5 / 4), cap)) {
    try {
      return await attempt(ms);
    } catch (e) {
      if (ms >= cap) throw e;
    }
  }
}

/** Waits `ms`: for pacing, never as an assertion. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Milliseconds since `start` (a `performance.now()` reading), to 0.1 ms. */
export function since(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}

/**
 * Resolves once `count()` has not changed for `quietMs` (a writer is
 * blocked), or after `limitMs` in any case.
 *
 * @returns The last count.
 */
export async function whenStalled(
  count: () => number,
  options: { quietMs: number; limitMs: number },
): Promise<number> {
  const step = Math.max(1, Math.floor(options.quietMs / 4));
  const end = performance.now() + options.limitMs;
  let last = count();
  let quietSince = performance.now();
  while (performance.now() < end) {
    await delay(step);
    const now = count();
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= options.quietMs) {
      break;
    }
  }
  return last;
}
