// Internal helpers shared by the buffered readers and writers: argument checks,
// the empty-operation cap, the write-everything loop and a FIFO lock.

import { NoProgressError, type Writer } from "./io.ts";

/** Buffer size when the caller gives none, as Go's bufio. */
export const DEFAULT_BUFFER_SIZE = 4096;
/** Smallest buffer; smaller sizes round up to it, as Go's bufio.Reader. */
export const MIN_BUFFER_SIZE = 16;
/** Largest buffer accepted (1 GiB). */
export const MAX_BUFFER_SIZE = 2 ** 30;
/** Empty reads or writes in a row that end in NoProgressError, as Go. */
export const MAX_EMPTY_OPS = 100;

/**
 * Checks a buffer size and rounds it up to the minimum.
 * Integers from 0 to 15 become 16; anything else that is not an integer in
 * range is a RangeError.
 */
export function _bufferSize(size: number | undefined): number {
  if (size === undefined) return DEFAULT_BUFFER_SIZE;
  if (!Number.isInteger(size) || size < 0 || size > MAX_BUFFER_SIZE) {
    throw new RangeError(
      `Buffer size must be an integer from 0 to ${MAX_BUFFER_SIZE}: got ${String(size)}`,
    );
  }
  return size < MIN_BUFFER_SIZE ? MIN_BUFFER_SIZE : size;
}

/** Checks that `n` is a non-negative safe integer, naming it in the error. */
export function _checkCount(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`${name} must be a non-negative integer: got ${String(n)}`);
  }
}

/** Checks that `c` is a byte value, 0 to 255. */
export function _checkByte(c: number, name: string): void {
  if (!Number.isInteger(c) || c < 0 || c > 255) {
    throw new RangeError(`${name} must be an integer from 0 to 255: got ${String(c)}`);
  }
}

/**
 * Checks a count returned by a reader or writer for a buffer of `max` bytes:
 * Go panics on these; here they are errors the caller sees.
 */
export function _checkResult(n: unknown, max: number, who: "Reader" | "Writer"): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) {
    throw new RangeError(
      `${who} returned an invalid count for a ${max}-byte buffer: got ${String(n)}`,
    );
  }
  return n;
}

/** Joins byte arrays whose lengths add up to `total` into a new array. */
export function _concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const part of parts) {
    out.set(part, off);
    off += part.length;
  }
  return out;
}

/**
 * Writes all of `p` to `wr`: one `write` call when the writer takes it all
 * (netconn's Conn always does), more when it accepts part of it. Resolves with
 * `p.length`; rejects with the writer's error, or NoProgressError after 100
 * writes in a row that accept nothing. `written` receives the count accepted
 * before a failure.
 */
export async function _writeAll(
  wr: Writer,
  p: Uint8Array,
  progress?: { written: number },
): Promise<number> {
  let off = 0;
  let empty = 0;
  while (off < p.length) {
    const rest = off === 0 ? p : p.subarray(off);
    const n = _checkResult(await wr.write(rest), rest.length, "Writer");
    off += n;
    if (progress !== undefined) progress.written = off;
    if (n > 0) {
      empty = 0;
    } else if (++empty >= MAX_EMPTY_OPS) {
      throw new NoProgressError(`Writer accepted no bytes in ${MAX_EMPTY_OPS} writes in a row`);
    }
  }
  return p.length;
}

/**
 * Runs `op` once `lock` is this caller's, after every earlier waiter, and
 * releases it when `op` settles.
 */
export async function _locked<T>(lock: _Lock, op: () => Promise<T>): Promise<T> {
  if (!lock.tryAcquire()) await lock.acquire();
  try {
    return await op();
  } finally {
    lock.release();
  }
}

/**
 * A FIFO lock for the slow, awaiting paths of a buffered reader or writer.
 * `locked` is read by the synchronous fast paths, which only run when no slow
 * operation is pending. `release` hands the lock to the next waiter directly,
 * so no fast path can slip in between two queued operations.
 */
export class _Lock {
  /** True while an operation holds the lock. */
  locked = false;
  #waiters: (() => void)[] = [];

  /** Takes the lock if it is free; returns whether it did. */
  tryAcquire(): boolean {
    if (this.locked) return false;
    this.locked = true;
    return true;
  }

  /** Resolves once the lock is this caller's, after every earlier waiter. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Passes the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.#waiters.shift();
    if (next === undefined) this.locked = false;
    else next();
  }
}
