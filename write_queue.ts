/**
 * WriteQueue: the FIFO that makes each `Conn.write` one contiguous run of
 * bytes on the wire, with true counts when a write fails. Internal.
 *
 * @module
 */

import type { Deadline } from "./deadline.ts";
import {
  CLOSED_INTERRUPT,
  dueInterrupt,
  Fifo,
  type Interrupt,
  isInterrupt,
  waitFor,
} from "./_wait.ts";
import {
  ClosedError,
  fromAbortReason,
  fromRuntimeError,
  type NetError,
  type OpSite,
  TimeoutError,
} from "./errors.ts";

/** One runtime write: sends a prefix of `chunk`, resolves with its length. */
export type WriteSink = (chunk: Uint8Array) => Promise<number>;

/** Where the queue's writes go, and how to name them in errors. */
export interface WriteQueueOptions {
  /** The deadline every write waits on. */
  deadline: Deadline;
  /** The site errors report (`op` is always `"write"`). */
  site: OpSite;
  /** Time in milliseconds, for the blocked-time stat. @default {performance.now} */
  now?: () => number;
}

/** The largest chunk handed to one runtime write. */
export const MAX_CHUNK = 1 << 20;

/**
 * WriteQueue serves writes one at a time, first come first served, so each
 * caller's bytes are contiguous on the wire, and makes every outcome exact:
 *
 * - A write resolves with `p.length` once the OS has accepted every byte.
 * - A write that fails rejects with a NetError whose `bytesWritten` is the
 *   count of its own bytes the OS accepted.
 * - The runtime never sees the caller's buffer: each runtime write gets a
 *   pooled copy, so a write that Deno cannot cancel never sends bytes the
 *   caller has changed since its call returned.
 * - When a deadline or signal ends a write while a runtime write is in flight,
 *   the error's `settled` resolves with the final count once that runtime
 *   write ends, and no later write starts before then: the stream's state is
 *   never unknown to the next writer.
 * - Writes waiting in line fail, with `bytesWritten` 0, when the deadline
 *   passes, their signal fires, or the queue closes. A write that fails for
 *   any other reason (reset, broken pipe) does not fail the writes behind it:
 *   each meets the error itself, as in Go.
 */
export class WriteQueue {
  #sink: WriteSink;
  #deadline: Deadline;
  #site: OpSite;
  #now: () => number;
  #fifo = new Fifo();
  #closed = false;
  #bytes = 0;
  #ops = 0;
  #blockedMs = 0;
  #lastOp: Promise<number> | null = null; // the latest runtime write

  /**
   * @param sink One runtime write.
   * @param options The deadline, error site and clock.
   */
  constructor(sink: WriteSink, options: WriteQueueOptions) {
    this.#sink = sink;
    this.#deadline = options.deadline;
    this.#site = { ...options.site, op: "write" };
    this.#now = options.now ?? performance.now.bind(performance);
  }

  /** Writes waiting or in progress, including a stranded runtime write. */
  get depth(): number {
    return this.#fifo.depth;
  }

  /** Bytes the OS accepted, over all writes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Writes that completed in full. */
  get ops(): number {
    return this.#ops;
  }

  /** Milliseconds writes spent waiting for the socket to take more bytes. */
  get blockedMs(): number {
    return this.#blockedMs;
  }

  /**
   * Writes all of `p` after the writes before it, as one contiguous run.
   *
   * @param p The bytes; never read after the returned promise settles.
   * @param signal Ends this write early, as a passed deadline would.
   * @returns `p.length`, once the OS has accepted every byte.
   */
  write(p: Uint8Array, signal?: AbortSignal): Promise<number> {
    if (this.#closed) return Promise.reject(new ClosedError({ ...this.#site, bytesWritten: 0 }));
    const due = dueInterrupt(this.#deadline, signal);
    if (due !== undefined) return Promise.reject(this.#interruptError(due, 0));
    if (p.length === 0) return Promise.resolve(0);
    if (this.#fifo.tryAcquire()) return this.#send(p, signal);
    return this.#queued(p, signal);
  }

  async #queued(p: Uint8Array, signal: AbortSignal | undefined): Promise<number> {
    try {
      await this.#fifo.acquire(this.#deadline, signal);
    } catch (e) {
      throw isInterrupt(e) ? this.#interruptError(e, 0) : e;
    }
    return await this.#send(p, signal);
  }

  /**
   * Runs `action` in the write turn: after the writes queued before it, and
   * before those queued after. Waiting is bounded by the deadline.
   *
   * @throws {Interrupt} If the deadline passes or the queue closes while waiting.
   */
  async inTurn<T>(action: () => Promise<T>): Promise<T> {
    if (this.#closed) throw CLOSED_INTERRUPT;
    if (!this.#fifo.tryAcquire()) await this.#fifo.acquire(this.#deadline);
    try {
      return await action();
    } finally {
      this.#fifo.release();
    }
  }

  /** Resolves once no runtime write is in flight (after close, once the runtime failed it). */
  async idle(): Promise<void> {
    await this.#lastOp?.then(() => {}, () => {});
  }

  /** Fails every waiting write with ClosedError; the runtime fails the one in flight. */
  close(): void {
    this.#closed = true;
    this.#fifo.close();
  }

  /** Holds the turn: sends `p` in pooled chunks, then passes the turn on. */
  async #send(p: Uint8Array, signal: AbortSignal | undefined): Promise<number> {
    let done = 0; // bytes of p the OS accepted; 0 <= done <= p.length
    let blockedSince = -1;
    let chunk: Uint8Array | null = null;
    try {
      while (done < p.length) {
        const len = Math.min(p.length - done, MAX_CHUNK);
        chunk = takeChunk(len);
        chunk.set(len === p.length ? p : p.subarray(done, done + len));
        for (let off = 0; off < len;) {
          if (this.#closed) throw CLOSED_INTERRUPT;
          const op = this.#lastOp = this.#sink(off === 0 ? chunk : chunk.subarray(off));
          let n: number;
          try {
            n = await waitFor(op, this.#deadline, signal);
          } catch (e) {
            if (!isInterrupt(e)) throw e;
            const stranded = this.#strand(op, chunk, done, e);
            chunk = null; // the stranded op owns it now, and the turn
            return Promise.reject(stranded);
          }
          off += n;
          done += n;
          this.#bytes += n;
          if (off < len && blockedSince < 0) blockedSince = this.#now();
        }
        giveChunk(chunk);
        chunk = null;
      }
      this.#ops++;
      this.#fifo.release();
      return done;
    } catch (e) {
      if (chunk !== null) giveChunk(chunk);
      this.#fifo.release();
      throw this.#failure(e, done);
    } finally {
      if (blockedSince >= 0) this.#blockedMs += this.#now() - blockedSince;
    }
  }

  /**
   * A deadline or signal ended the write while `op` was in flight: the turn
   * stays held until `op` settles, then passes on; the error's `settled`
   * resolves with the final count.
   */
  #strand(op: Promise<number>, chunk: Uint8Array, done: number, why: Interrupt): NetError {
    const settled = op.then((n) => {
      this.#bytes += n;
      return done + n;
    }, () => done).finally(() => {
      giveChunk(chunk);
      this.#fifo.release();
    });
    return this.#interruptError(why, done, settled);
  }

  #failure(e: unknown, done: number): NetError {
    if (isInterrupt(e)) return this.#interruptError(e, done);
    if (this.#closed) return new ClosedError({ ...this.#site, bytesWritten: done, cause: e });
    return fromRuntimeError(e, this.#site, { bytesWritten: done });
  }

  #interruptError(why: Interrupt, done: number, settled?: Promise<number>): NetError {
    const counts = settled === undefined ? { bytesWritten: done } : { bytesWritten: done, settled };
    switch (why.kind) {
      case "deadline":
        return new TimeoutError({ ...this.#site, ...counts });
      case "abort":
        return fromAbortReason(why.reason, this.#site, counts);
      case "closed":
        return new ClosedError({ ...this.#site, ...counts });
    }
  }
}

// The chunk pool: buffers for runtime writes, by power-of-two size class from
// 1 KiB to MAX_CHUNK, shared by every conn so an idle conn holds none. Each
// class keeps at most 1 MiB of free buffers (so the pool keeps under 12 MiB).
const MIN_CLASS = 10;
const MAX_CLASS = 20;
const CLASS_BYTES = 1 << 20;
const pool: Uint8Array[][] = Array.from({ length: MAX_CLASS + 1 }, () => []);

function sizeClass(len: number): number {
  return Math.max(MIN_CLASS, 32 - Math.clz32(len - 1));
}

function takeChunk(len: number): Uint8Array {
  const cls = sizeClass(len);
  const buf = pool[cls]!.pop() ?? new Uint8Array(1 << cls);
  return buf.length === len ? buf : buf.subarray(0, len);
}

function giveChunk(chunk: Uint8Array): void {
  const buf = new Uint8Array(chunk.buffer);
  const cls = 31 - Math.clz32(buf.length);
  const free = pool[cls];
  if (free !== undefined && (free.length + 1) << cls <= CLASS_BYTES) free.push(buf);
}
