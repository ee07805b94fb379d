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

/** Bytes of waiting writes gathered into one runtime write, at most. */
export const BATCH_BYTES = 64 * 1024;
/** Waiting writes up to this size (and without a signal) join a batch. */
const BATCH_ITEM = 16 * 1024;

/** One write waiting in a batch: its bytes are batch.chunk[start, end). */
interface BatchItem {
  start: number;
  end: number;
  resolve(n: number): void;
  reject(e: NetError): void;
}

/**
 * Writes that queued behind the one in progress, copied into one pooled
 * chunk in call order, sent with one runtime write when their turn comes.
 */
interface Batch {
  chunk: Uint8Array;
  used: number; // chunk[0, used) holds the items' bytes
  items: BatchItem[];
}

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
 * - Small writes (up to 16 KiB, without a signal) that queue one after the
 *   other behind a write in progress are gathered, in call order, into one
 *   chunk of up to 64 KiB and sent with one runtime write: each is still
 *   one contiguous run, in its place in line, and resolves once its own
 *   bytes are accepted. A failure part-way through such a batch fails each
 *   write not yet accepted, with the count of its own bytes that were.
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
  #tail: Batch | null = null; // the batch at the end of the line, still open to joiners
  #batched = 0; // writes waiting in batches, beyond one per batch (for depth)

  /**
   * @param sink One runtime write.
   * @param options The deadline, error site and clock.
   */
  constructor(sink: WriteSink, options: WriteQueueOptions) {
    this.#sink = sink;
    this.#deadline = options.deadline;
    this.#site = { ...options.site, op: "write" };
    this.#now = options.now ?? perfNow;
  }

  /** Writes waiting or in progress, including a stranded runtime write. */
  get depth(): number {
    return this.#fifo.depth + this.#batched;
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
    if (signal === undefined && p.length <= BATCH_ITEM) return this.#join(p);
    return this.#queued(p, signal);
  }

  async #queued(p: Uint8Array, signal: AbortSignal | undefined): Promise<number> {
    this.#tail = null; // later writes queue behind this one
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
    if (!this.#fifo.tryAcquire()) {
      this.#tail = null; // later writes queue behind the action
      await this.#fifo.acquire(this.#deadline);
    }
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

  /** Copies `p` into the open batch at the end of the line, or opens one there. */
  #join(p: Uint8Array): Promise<number> {
    let batch = this.#tail;
    if (batch !== null && batch.used + p.length <= batch.chunk.length) {
      this.#batched++;
    } else {
      batch = { chunk: takeChunk(BATCH_BYTES), used: 0, items: [] };
      this.#tail = batch;
      void this.#runBatch(batch);
    }
    const start = batch.used;
    batch.chunk.set(p, start);
    batch.used = start + p.length;
    const items = batch.items;
    return new Promise<number>((resolve, reject) => {
      items.push({ start, end: start + p.length, resolve, reject });
    });
  }

  /** Waits for the batch's turn, then sends its bytes with one runtime write (more if partial). */
  async #runBatch(batch: Batch): Promise<void> {
    try {
      await this.#fifo.acquire(this.#deadline);
    } catch (e) {
      this.#closeBatch(batch);
      const why = isInterrupt(e) ? e : CLOSED_INTERRUPT;
      for (const item of batch.items) item.reject(this.#interruptError(why, 0));
      giveChunk(batch.chunk);
      return;
    }
    this.#closeBatch(batch);
    const { chunk, items } = batch;
    const len = batch.used;
    let done = 0; // bytes of the batch the OS accepted
    let next = 0; // items[0, next) have resolved
    let blockedSince = -1;
    try {
      while (done < len) {
        if (this.#closed) throw CLOSED_INTERRUPT;
        const op = this.#lastOp = this.#sink(chunk.subarray(done, len));
        let n: number;
        try {
          n = await waitFor(op, this.#deadline);
        } catch (e) {
          if (!isInterrupt(e)) throw e;
          this.#strandBatch(op, batch, done, next, e);
          return;
        }
        done += n;
        this.#bytes += n;
        for (; next < items.length && items[next]!.end <= done; next++) {
          this.#ops++;
          items[next]!.resolve(items[next]!.end - items[next]!.start);
        }
        if (done < len && blockedSince < 0) blockedSince = this.#now();
      }
      giveChunk(chunk);
      this.#fifo.release();
    } catch (e) {
      giveChunk(chunk);
      this.#fifo.release();
      for (; next < items.length; next++) {
        const item = items[next]!;
        item.reject(this.#failure(e, Math.max(0, done - item.start)));
      }
    } finally {
      if (blockedSince >= 0) this.#blockedMs += this.#now() - blockedSince;
    }
  }

  /** The batch's turn has come (or failed): no write joins it any more. */
  #closeBatch(batch: Batch): void {
    if (this.#tail === batch) this.#tail = null;
    this.#batched -= batch.items.length - 1;
  }

  /**
   * A deadline ended a batch while `op` was in flight: each write not yet
   * accepted fails with its own count, and its `settled` gives its final
   * count; the turn passes on once `op` settles.
   */
  #strandBatch(
    op: Promise<number>,
    batch: Batch,
    done: number,
    next: number,
    why: Interrupt,
  ): void {
    const final = op.then((n) => {
      this.#bytes += n;
      return done + n;
    }, () => done).finally(() => {
      giveChunk(batch.chunk);
      this.#fifo.release();
    });
    for (const item of batch.items.slice(next)) {
      const own = (total: number): number =>
        Math.min(Math.max(total - item.start, 0), item.end - item.start);
      item.reject(this.#interruptError(why, own(done), final.then(own)));
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

function perfNow(): number {
  return performance.now();
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
