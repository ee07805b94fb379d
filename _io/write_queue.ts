/**
 * WriteQueue: the FIFO that makes each `Conn.write` one contiguous run of
 * bytes on the wire, with true counts when a write fails. Internal.
 *
 * @module
 */

import type { Deadline } from "../deadline.ts";
import { type OpSite, toNetError } from "../errors.ts";
import { giveChunk, MAX_CHUNK, takeChunk } from "./chunk_pool.ts";
import { CLOSED, DEADLINE, dueInterrupt, Interrupt, Line, resolvedCount, waitFor } from "./wait.ts";
import type { KernelFirst } from "./kernel_first.ts";
import { type Batch, copyRun, type Entry, own, sendNow } from "./batch.ts";
import { schedule } from "./timers.ts";

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
  /**
   * The conn's kernel-first socket: with it, a write goes to the kernel
   * first, on the caller's buffer, and only what does not fit waits, copied,
   * on a runtime write.
   */
  kernel?: KernelFirst | null;
  /**
   * Calls `fn` after the current timer turn: how long an interrupt waits for
   * a runtime write that the kernel may have completed without waiting.
   * @default {a zero-delay timer}
   */
  defer?: (fn: () => void) => void;
}

/** Bytes of waiting writes gathered into one runtime write, at most. */
const BATCH_BYTES = 64 * 1024;
/** A write up to this size on an idle queue without a kernel socket takes the lone path. */
const LONE_MAX = 64 * 1024;
/** Waiting writes up to this size (and without a signal) join a batch. */
const BATCH_ITEM = 16 * 1024;

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
 * - The deadline is checked when a write's turn comes and before each
 *   runtime write after the first (the socket was full a moment ago), and
 *   ends a runtime write only if it is still waiting for the socket one
 *   timer turn after the deadline passed: bytes the kernel takes at once are
 *   written, as in Go.
 * - When a deadline or signal ends a runtime write in flight (it strands),
 *   the error's `settled` resolves with the final count once that runtime
 *   write ends, and no later write starts before then: the stream's state is
 *   never unknown to the next writer.
 * - Writes waiting in line fail at once, with `bytesWritten` 0, when the
 *   deadline passes, their signal fires, or the queue closes; a write issued
 *   after the deadline moved again never sees the old one. A write that fails
 *   for any other reason (reset, broken pipe) does not fail the writes behind
 *   it: each meets the error itself, as in Go.
 * - Small writes (up to 16 KiB, without a signal) waiting one after the
 *   other are gathered, in call order, into one chunk of up to 64 KiB and
 *   sent with one runtime write: each is still one contiguous run, in its
 *   place in line, and resolves once its own bytes are accepted.
 */
export class WriteQueue {
  #sink: WriteSink;
  #deadline: Deadline;
  #site: OpSite;
  #now: () => number;
  #defer: (fn: () => void) => void;
  #line = new Line<Entry>(); // writes waiting their turn; one that left early is done
  #waiting = 0; // entries in line, not done
  #watching = false; // #onDeadline is watching the deadline for the line
  #busy = false; // the turn is held: a batch or action is served, or a write is stranded
  #serving = 0; // writes of the batch being served (or 1 for a stranded write)
  #closed = false;
  #bytes = 0;
  #ops = 0;
  #blockedMs = 0;
  #lastOp: Promise<number> | null = null; // the latest runtime write
  #kernel: KernelFirst | null;

  /**
   * @param sink One runtime write.
   * @param options The deadline, error site and clock.
   */
  constructor(sink: WriteSink, options: WriteQueueOptions) {
    this.#sink = sink;
    this.#deadline = options.deadline;
    this.#site = { ...options.site, op: "write" };
    this.#now = options.now ?? perfNow;
    this.#defer = options.defer ?? deferToTimer;
    this.#kernel = options.kernel ?? null;
  }

  /** Writes waiting or in progress, including a stranded runtime write. */
  get depth(): number {
    return this.#waiting + this.#serving;
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
    if (this.#closed) return Promise.reject(this.#error(CLOSED, 0));
    const due = dueInterrupt(this.#deadline, signal);
    if (due !== undefined) return Promise.reject(this.#error(due, 0));
    if (p.length === 0) return resolvedCount(0);
    if (this.#busy) return this.#enqueue(p, signal, undefined, 0) as Promise<number>;
    let sent = 0;
    const kernel = this.#kernel;
    if (kernel !== null && !kernel.mustYield) {
      // The turn is free and nobody waits: the kernel first, at once, as
      // Go's write does its syscall; only what it does not take waits.
      try {
        sent = Math.max(kernel.send(p), 0);
      } catch (e) {
        return Promise.reject(this.#error(e, 0));
      }
      this.#bytes += sent;
      if (sent === p.length) {
        this.#ops++;
        return resolvedCount(sent);
      }
    }
    // The turn is free: served at once, without waiting in line.
    if (kernel === null && p.length <= LONE_MAX) return this.#sendLone(p, signal);
    return this.#sendOne(sent === 0 ? p : p.subarray(sent), signal, sent);
  }

  /** A write served at once by #send, as a batch of one: `sent` bytes went already. */
  #sendOne(
    rest: Uint8Array,
    signal: AbortSignal | undefined,
    sent: number,
    blockedSince = -1,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      const entry: Entry = {
        p: rest,
        sent,
        signal,
        action: undefined,
        resolve: resolve as (value: unknown) => void,
        reject,
        onAbort: undefined,
        done: true,
      };
      this.#busy = true;
      this.#serving = 1;
      const total = rest.length;
      void this.#send({ entries: [entry], ends: [total], total, signal, blockedSince });
    });
  }

  /**
   * A small write on an idle queue without a kernel-first socket: one pooled
   * copy and one runtime write, settled from its callbacks, with none of a
   * batch's bookkeeping. The same rules as #send: an interrupt is held back a
   * timer turn and strands the runtime write only if it is still waiting; a
   * partial write goes on through #send.
   */
  #sendLone(p: Uint8Array, signal: AbortSignal | undefined): Promise<number> {
    this.#busy = true;
    this.#serving = 1;
    const chunk = takeChunk(p.length);
    chunk.set(p);
    let op: Promise<number>;
    try {
      op = this.#lastOp = this.#sink(chunk);
    } catch (e) {
      giveChunk(chunk);
      this.#next();
      return Promise.reject(this.#error(e, 0));
    }
    return new Promise<number>((resolve, reject) => {
      let settled = false; // op settled
      let stranded = false; // an interrupt failed the write while op was in flight
      const stop = (): void => {
        this.#deadline.unwatch(onExpire);
        signal?.removeEventListener("abort", onAbort);
      };
      const interrupt = (why: Interrupt): void => {
        stop();
        this.#defer(() => {
          if (settled || stranded) return;
          stranded = true;
          // The turn passes once op settles, with its count.
          const final = op.then((n) => {
            this.#bytes += n;
            return n;
          }, () => 0).finally(() => this.#next());
          reject(this.#error(why, 0, final));
        });
      };
      const onExpire = (): void => interrupt(DEADLINE);
      const onAbort = (): void => interrupt(new Interrupt("abort", signal!.reason));
      op.then((n) => {
        settled = true;
        stop();
        giveChunk(chunk);
        if (stranded) return; // the strand's own handler counts it and passes the turn
        this.#bytes += n;
        if (n === p.length) {
          this.#ops++;
          this.#next();
          resolve(n);
        } else {
          // The socket took part: the rest goes on as any write does.
          resolve(this.#sendOne(p.subarray(n), signal, n, this.#now()));
        }
      }, (e: unknown) => {
        settled = true;
        stop();
        giveChunk(chunk);
        if (stranded) return;
        this.#next();
        reject(this.#error(e, 0));
      });
      if (signal !== undefined) {
        signal.addEventListener("abort", onAbort, { once: true });
        if (signal.aborted) return onAbort();
      }
      this.#deadline.watch(onExpire);
    });
  }

  /**
   * Runs `action` in the write turn: after the writes queued before it, and
   * before those queued after. Waiting is bounded by the deadline and `signal`.
   *
   * @throws {Interrupt} If the deadline passes, the signal fires or the queue
   *   closes while waiting.
   */
  inTurn<T>(action: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const due = this.#closed ? CLOSED : dueInterrupt(this.#deadline, signal);
    if (due !== undefined) return Promise.reject(due);
    return this.#enqueue(new Uint8Array(0), signal, action, 0) as Promise<T>;
  }

  /** Resolves once no runtime write is in flight (after close, once the runtime failed it). */
  async idle(): Promise<void> {
    await this.#lastOp?.then(() => {}, () => {});
  }

  /** Fails every waiting write with ClosedError; the runtime fails the one in flight. */
  close(): void {
    this.#closed = true;
    this.#failWaiting(CLOSED);
  }

  #enqueue(
    p: Uint8Array,
    signal: AbortSignal | undefined,
    action: (() => Promise<unknown>) | undefined,
    sent: number,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const entry: Entry = {
        p,
        sent,
        signal,
        action,
        resolve,
        reject,
        onAbort: undefined,
        done: false,
      };
      this.#line.push(entry);
      this.#waiting++;
      if (!this.#busy) this.#next();
      if (entry.done) return; // the turn was free: it is being served
      if (signal !== undefined) {
        entry.onAbort = () => this.#leave(entry, new Interrupt("abort", signal.reason));
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      if (!this.#watching) {
        this.#watching = true;
        this.#deadline.watch(this.#onDeadline);
      }
    });
  }

  /** The deadline passed: every write waiting in line fails at once. */
  #onDeadline = (): void => {
    this.#watching = false;
    this.#failWaiting(DEADLINE);
  };

  /**
   * Passes the turn to the next batch in line, or frees it. Called before
   * the previous batch's last write settles, so a caller who writes again
   * once its write resolved finds the turn as Go's writer finds the fd
   * lock: free, unless another write waits.
   */
  #next(): void {
    const batch = this.#take();
    if (batch === undefined) {
      this.#busy = false;
      this.#serving = 0;
      return;
    }
    this.#busy = true;
    this.#serving = batch.entries.length;
    const first = batch.entries[0]!;
    if (first.action !== undefined) void this.#act(first, first.action);
    else void this.#send(batch);
  }

  /** Takes the next batch off the line: one entry, or several small writes. */
  #take(): Batch | undefined {
    const first = this.#shift();
    if (first === undefined) return undefined;
    const entries = [first];
    let total = first.p.length;
    const ends = [total];
    if (first.action === undefined && first.signal === undefined && total <= BATCH_ITEM) {
      for (;;) {
        const next = this.#peek();
        if (
          next === undefined || next.action !== undefined || next.signal !== undefined ||
          next.p.length > BATCH_ITEM || total + next.p.length > BATCH_BYTES
        ) break;
        this.#shift();
        entries.push(next);
        total += next.p.length;
        ends.push(total);
      }
    }
    return { entries, ends, total, signal: first.signal };
  }

  async #act(entry: Entry, action: () => Promise<unknown>): Promise<void> {
    let value: unknown;
    try {
      value = await action();
    } catch (e) {
      this.#next();
      entry.reject(e);
      return;
    }
    this.#next();
    entry.resolve(value);
  }

  /**
   * Sends a batch: copies its bytes into pooled chunks of up to MAX_CHUNK and
   * hands them to the runtime until every byte is accepted, resolving each
   * write once its own bytes are. The turn passes on at the end, after a
   * failure, or once a stranded runtime write has settled.
   */
  async #send(batch: Batch): Promise<void> {
    const { entries, ends, total, signal } = batch;
    let done = 0; // bytes of the batch the OS accepted; 0 <= done <= total
    let next = 0; // entries[0, next) have resolved
    let blockedSince = batch.blockedSince ?? -1;
    let chunk: Uint8Array | null = null;
    const accepted = (n: number): void => {
      done += n;
      this.#bytes += n;
      // Writes done before the batch's end resolve now; the last one once the turn passed.
      for (; next < entries.length && ends[next]! <= done && done < total; next++) {
        this.#ops++;
        entries[next]!.resolve(entries[next]!.sent + entries[next]!.p.length);
      }
    };
    try {
      while (done < total) {
        // Go's prepareWrite before the first runtime write, its waitWrite
        // before each one after a partial write: the socket was full.
        let due = dueInterrupt(this.#deadline, signal);
        if (due !== undefined) throw due;
        const kernel = this.#kernel;
        if (kernel !== null && kernel.mustYield) {
          // Sending without the event loop turning for 2 ms: give it a turn
          // first. The deadline was checked above: a yield is not a wait for
          // the socket.
          await kernel.yield();
        }
        if (kernel !== null && entries.length === 1) {
          // Kernel first, on the caller's own bytes: what it takes now is
          // written, and no copy is needed.
          if (this.#closed) throw CLOSED;
          const sent = sendNow(kernel, entries, ends, done, total);
          accepted(sent);
          if (done === total) break;
          if (sent > 0) {
            if (blockedSince < 0) blockedSince = this.#now();
            if ((due = dueInterrupt(this.#deadline, signal)) !== undefined) throw due;
          }
        }
        const len = Math.min(total - done, MAX_CHUNK);
        chunk = takeChunk(len);
        copyRun(entries, ends, done, chunk);
        let off = 0;
        if (kernel !== null && entries.length > 1) {
          // Several small writes: one copy into the chunk, then one send.
          if (this.#closed) throw CLOSED;
          off = Math.max(kernel.send(chunk), 0);
          accepted(off);
          if (off === len) {
            giveChunk(chunk);
            chunk = null;
            continue;
          }
          if (off > 0) {
            if (blockedSince < 0) blockedSince = this.#now();
            if ((due = dueInterrupt(this.#deadline, signal)) !== undefined) throw due;
          }
        }
        // The kernel would block: the runtime write waits, a real turn.
        if (kernel !== null && blockedSince < 0) blockedSince = this.#now();
        while (off < len) {
          if (this.#closed) throw CLOSED;
          if (off > 0 && (due = dueInterrupt(this.#deadline, signal)) !== undefined) throw due;
          const op = this.#lastOp = this.#sink(off === 0 ? chunk : chunk.subarray(off));
          let n: number;
          try {
            n = await waitFor(op, this.#deadline, signal, this.#defer);
          } catch (e) {
            if (!(e instanceof Interrupt)) throw e;
            this.#blocked(blockedSince);
            this.#strand(op, chunk, batch, done, next, e);
            chunk = null; // the stranded op owns it now, and the turn until it settles
            return;
          }
          off += n;
          accepted(n);
          if (off < len && blockedSince < 0) blockedSince = this.#now();
        }
        giveChunk(chunk);
        chunk = null;
      }
    } catch (e) {
      if (chunk !== null) giveChunk(chunk);
      this.#blocked(blockedSince);
      this.#next();
      for (; next < entries.length; next++) {
        entries[next]!.reject(this.#error(e, entries[next]!.sent + own(done, ends, next)));
      }
      return;
    }
    this.#blocked(blockedSince);
    this.#next();
    for (; next < entries.length; next++) {
      this.#ops++;
      entries[next]!.resolve(entries[next]!.sent + entries[next]!.p.length);
    }
  }

  #blocked(since: number): void {
    if (since >= 0) this.#blockedMs += this.#now() - since;
  }

  /**
   * The strand hand-off: a deadline or signal ended the batch while `op` was
   * in flight. Each write not yet accepted fails now with its own count, and
   * its `settled` resolves with its own final count once `op` settles, and
   * the turn passes on then.
   */
  #strand(
    op: Promise<number>,
    chunk: Uint8Array,
    batch: Batch,
    done: number,
    next: number,
    why: Interrupt,
  ): void {
    const final = op.then((n) => {
      this.#bytes += n;
      return done + n;
    }, () => done).finally(() => {
      giveChunk(chunk);
      this.#next();
    });
    const { entries, ends } = batch;
    for (let i = next; i < entries.length; i++) {
      const sent = entries[i]!.sent;
      const settled = final.then((total) => sent + own(total, ends, i));
      entries[i]!.reject(this.#error(why, sent + own(done, ends, i), settled));
    }
    this.#serving = 1; // the stranded write
  }

  /** The next entry still waiting, left in line. */
  #peek(): Entry | undefined {
    return this.#line.peek();
  }

  /** The next entry still waiting, taken out of line. */
  #shift(): Entry | undefined {
    const entry = this.#line.shift();
    if (entry !== undefined) this.#settle(entry);
    return entry;
  }

  /** An entry leaves the line: done, no longer listening to its signal. */
  #settle(entry: Entry): void {
    entry.done = true;
    this.#waiting--;
    if (entry.onAbort !== undefined) entry.signal!.removeEventListener("abort", entry.onAbort);
    if (this.#waiting === 0 && this.#watching) {
      this.#watching = false;
      this.#deadline.unwatch(this.#onDeadline);
    }
  }

  /** An entry leaves the line early, failing with `why`. */
  #leave(entry: Entry, why: Interrupt): void {
    if (entry.done) return;
    this.#settle(entry);
    entry.reject(entry.action === undefined ? this.#error(why, entry.sent) : why);
  }

  #failWaiting(why: Interrupt): void {
    for (const entry of this.#line.drain()) this.#leave(entry, why);
  }

  #error(failure: unknown, done: number, settled?: Promise<number>): Error {
    const counts = settled === undefined ? { bytesWritten: done } : { bytesWritten: done, settled };
    return toNetError(failure, this.#site, counts, this.#closed);
  }
}

function perfNow(): number {
  return performance.now();
}

function deferToTimer(fn: () => void): void {
  schedule(fn, 0);
}
