/**
 * The tools of testConn's steps: waits bounded in time that fail with a
 * message saying what did not happen, background tasks that are always
 * waited for, copy loops and byte patterns. Internal.
 *
 * @module
 */

import type { ConnUnderTest } from "./make_pipe.ts";

/** A step's failure: a sentence saying what broke. */
export class ConnTestFailure extends Error {
  /** @param message What broke. */
  constructor(message: string) {
    super(message);
    this.name = "ConnTestFailure";
  }
}

const PENDING: unique symbol = Symbol("pending");

type Outcome<T> = { value: T } | { error: unknown };

/** How `p` settled within `ms`, or PENDING. The timer is always cleared. */
async function settleWithin<T>(p: Promise<T>, ms: number): Promise<Outcome<T> | typeof PENDING> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timer = new Promise<typeof PENDING>((resolve) => {
    id = setTimeout(() => resolve(PENDING), ms);
  });
  try {
    return await Promise.race([p.then((value) => ({ value }), (error) => ({ error })), timer]);
  } finally {
    clearTimeout(id);
  }
}

/** Settles like `p`, or fails with "`what` did not end within `ms` ms: `why`". */
export async function mustEnd<T>(p: Promise<T>, ms: number, what: string, why = ""): Promise<T> {
  const outcome = await settleWithin(p, ms);
  if (outcome === PENDING) {
    throw new ConnTestFailure(`${what} did not end within ${ms} ms${why && `: ${why}`}`);
  }
  if ("error" in outcome) throw outcome.error;
  return outcome.value;
}

/** Fails unless `p` is still pending after `ms`; `p` is marked handled. */
export async function mustStayPending(
  p: Promise<unknown>,
  ms: number,
  what: string,
): Promise<void> {
  const outcome = await settleWithin(p, ms);
  if (outcome !== PENDING) {
    throw new ConnTestFailure(`${what} ended early: it ${describeOutcome(outcome)}`);
  }
}

/**
 * When a deadline was due: at `at` (epoch ms), set `ahead` ms before it;
 * it may fire at most max(`lateMs`, 5 × `ahead`) ms late.
 */
export interface Due {
  at: number;
  ahead: number;
  lateMs: number;
}

/** The deadline `ahead` ms from now (0: now, or a time already passed). */
export function dueIn(ahead: number, lateMs: number): Due {
  return { at: Date.now() + ahead, ahead, lateMs };
}

/** Fails if a timeout seen now came later than `due` allows. */
export function checkLate(due: Due, what: string): void {
  const late = Date.now() - due.at;
  const allowed = Math.max(due.lateMs, 5 * due.ahead);
  if (late > allowed) {
    throw new ConnTestFailure(
      `${what} timed out ${late} ms after its deadline; a deadline may fire at most ` +
        `${allowed} ms late (${due.lateMs} ms or 5 × the ${due.ahead} ms it was set ahead, ` +
        "whichever is larger)",
    );
  }
}

/**
 * Fails unless `p` rejects with a timeout error (`err.timeout === true`, Go's
 * `Timeout()`) within `ms`, and, given `due`, no later than it allows;
 * returns the error.
 */
export async function mustTimeOut(
  p: Promise<unknown>,
  ms: number,
  what: string,
  due?: Due,
): Promise<unknown> {
  const outcome = await settleWithin(p, ms);
  if (outcome === PENDING) {
    throw new ConnTestFailure(
      `${what} did not time out within ${ms} ms: the deadline did not end it`,
    );
  }
  if (!("error" in outcome) || !isTimeout(outcome.error)) {
    throw new ConnTestFailure(
      `${what} ${describeOutcome(outcome)}; want a timeout error (err.timeout === true)`,
    );
  }
  if (due !== undefined) checkLate(due, what);
  return outcome.error;
}

/** Fails unless `e` is a timeout error. */
export function checkTimeout(e: unknown, what: string): void {
  if (!isTimeout(e)) {
    throw new ConnTestFailure(
      `${what} failed with ${describeError(e)}; want a timeout error (err.timeout === true)`,
    );
  }
}

/** Go's `Timeout()`: an object whose `timeout` is true. */
export function isTimeout(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { timeout?: unknown }).timeout === true;
}

function describeOutcome(outcome: Outcome<unknown>): string {
  return "error" in outcome
    ? `failed with ${describeError(outcome.error)}`
    : `resolved with ${String(outcome.value)}`;
}

/** An error as a message shows it: `Name: message`. */
export function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Waits `ms`. Pacing only: the steps assert with bounded waits, never with a sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Tasks a step runs in the background (a peer that echoes, writes or
 * drains). Their failures are theirs to report; the step waits for all of
 * them after closing the conns, so nothing outlives it.
 */
export class Tasks {
  #running: Promise<unknown>[] = [];

  /** Starts `fn`; the returned promise settles with it (and is marked handled). */
  spawn<T>(fn: () => Promise<T>): Promise<T> {
    const p = fn();
    p.catch(() => {});
    this.#running.push(p);
    return p;
  }

  /** How many tasks are still pending after waiting up to `ms` for them all. */
  async settle(ms: number): Promise<number> {
    let pending = 0;
    const counted = this.#running.map((p) => p.then(() => {}, () => {}));
    const all = Promise.all(counted);
    if (await settleWithin(all, ms) !== PENDING) return 0;
    for (const p of counted) if (await settleWithin(p, 0) === PENDING) pending++;
    return pending;
  }
}

/** Writes all of `data` to `conn` in writes of `size` bytes. */
export async function writeChunked(conn: ConnUnderTest, data: Uint8Array, size = 1024) {
  for (let off = 0; off < data.length; off += size) {
    await conn.write(data.subarray(off, Math.min(off + size, data.length)));
  }
}

/** Copies from `src` to `dst` in reads of 1024 bytes, until EOF or an error. */
export async function copy(dst: ConnUnderTest, src: ConnUnderTest): Promise<void> {
  const buf = new Uint8Array(1024);
  for (let n = await src.read(buf); n !== null; n = await src.read(buf)) {
    if (n > 0) await dst.write(buf.subarray(0, n));
  }
}

/** Reads exactly `n` bytes; null at EOF before any byte. */
export async function readFull(conn: ConnUnderTest, n: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const m = await conn.read(out.subarray(got));
    if (m === null) {
      if (got === 0) return null;
      throw new ConnTestFailure(`EOF after ${got} of ${n} bytes`);
    }
    got += m;
  }
  return out;
}

/** The byte at `offset` of the test stream: a pattern that shows loss and reordering. */
export function patternAt(offset: number): number {
  return (offset + (offset >>> 8) * 7 + (offset >>> 16) * 13) & 0xff;
}

/** Fills `buf` with the test stream from `offset` on. */
export function fillPattern(buf: Uint8Array, offset: number): Uint8Array {
  for (let i = 0; i < buf.length; i++) buf[i] = patternAt(offset + i);
  return buf;
}

/** The first index of `got` that differs from the stream at `offset`, or -1. */
export function patternMismatch(got: Uint8Array, offset: number): number {
  for (let i = 0; i < got.length; i++) if (got[i] !== patternAt(offset + i)) return i;
  return -1;
}
