/**
 * pipe(): Go's `net.Pipe`, an in-memory full-duplex pair of
 * {@linkcode PipeConn}s.
 *
 * @module
 */

import {
  checkIoOptions,
  Conn,
  type ConnStats,
  coreOf,
  type IoOptions,
  type RawStream,
  withIoOptions,
} from "./conn.ts";
import type { PipeAddr } from "./address.ts";
import type { Deadline } from "./deadline.ts";
import type { NetError } from "./errors.ts";
import { withTimeout } from "./_io/op_timeout.ts";
import { checkBytes, describe } from "./_check.ts";
import { CLOSED, DEADLINE, dueInterrupt, Fifo, Interrupt } from "./_io/wait.ts";

/**
 * Returns the two ends of an in-memory, full-duplex connection, as Go's
 * `net.Pipe`: what one end writes, the other reads. No sockets, no
 * permissions. Each end is a {@linkcode Conn} with its whole contract:
 * deadlines moved while operations wait, whole concurrent writes, true
 * counts, `close` (the other end reads EOF, its writes fail with kind
 * `"broken-pipe"`), `closeWrite` (the other end reads EOF and can still
 * send), streams, stats and `await using`.
 *
 * As in Go nothing is buffered, in between or inside an end: a read copies
 * straight from the waiting write's buffer into its own, and a write
 * resolves only once the other end's reads have taken every byte of it (a
 * 10-byte write read 4 bytes at a time resolves at the third read). A write
 * that a deadline, a signal or a close ends reports in `bytesWritten`
 * exactly the bytes the other end read, and nothing more of it is ever
 * delivered; a read that times out took nothing.
 *
 * Zero-length calls wait as Go's do: an empty write waits until the other
 * end is reading, then resolves with 0; an empty read waits until the other
 * end has a write waiting, then returns 0 and takes nothing. One difference,
 * by decision: Go's read that meets an empty write returns 0; here that read
 * goes on waiting for bytes, so a read of a non-empty buffer returns at
 * least 1 byte or `null`, as every {@linkcode Conn}'s does.
 *
 * The ends are {@linkcode PipeConn}s: `network` `"pipe"`, addresses
 * that print as `pipe` ({@linkcode PipeAddr}), and no socket options. While an operation on a pipe
 * waits, the process stays alive, as it would for a socket.
 *
 * @returns The two ends.
 *
 * @example Write on one end, read on the other
 * ```ts
 * import { pipe } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = pipe();
 * await using _a = a;
 * await using _b = b;
 *
 * const buf = new Uint8Array(5);
 * const [written, read] = await Promise.all([
 *   a.write(new TextEncoder().encode("hello")), // resolves once b has read it
 *   b.read(buf),
 * ]);
 * assert.equal(written, 5);
 * assert.equal(read, 5);
 * assert.equal(String(a.localAddr), "pipe");
 *
 * a.close();
 * assert.equal(await b.read(buf), null); // EOF
 * ```
 */
export function pipe(): [PipeConn, PipeConn] {
  const ab = new Channel();
  const ba = new Channel();
  return [new PipeConn(new PipeEnd(ba, ab)), new PipeConn(new PipeEnd(ab, ba))];
}

/**
 * PipeConn is an end of a {@linkcode pipe}: the {@linkcode Conn} contract in
 * memory, without socket options. Its addresses print as `pipe`. Its reads
 * and writes meet the other end's directly, with no buffer in between; see
 * {@linkcode pipe} for what that means for counts and zero-length calls.
 *
 * @example An end of a pipe
 * ```ts
 * import { pipe, PipeConn } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = pipe();
 * assert.ok(a instanceof PipeConn);
 * assert.equal(a.network, "pipe");
 * a.close();
 * b.close();
 * ```
 */
export class PipeConn extends Conn {
  #end: PipeEnd;
  #readTurn = new Fifo(); // one read at a time, in call order
  #writeTurn = new Fifo(); // one write at a time, in call order
  #readable: ReadableStream<Uint8Array> | null = null;
  #bytesRead = 0;
  #reads = 0;
  #bytesWritten = 0;
  #writes = 0;
  #blockedMs = 0;

  /**
   * Made by {@linkcode pipe} only.
   *
   * @param end An end made by `pipe()`.
   * @throws {TypeError} If `end` is not an end made by `pipe()`.
   */
  constructor(end: RawStream) {
    if (!(end instanceof PipeEnd)) {
      throw new TypeError(`PipeConn is made by pipe(): received ${describe(end)}`);
    }
    super(end);
    this.#end = end;
  }

  /** The local address: `pipe`. */
  override get localAddr(): PipeAddr {
    return super.localAddr as PipeAddr;
  }

  /** The remote address: `pipe`. */
  override get remoteAddr(): PipeAddr {
    return super.remoteAddr as PipeAddr;
  }

  /**
   * Reads up to `p.length` bytes that the other end's write offers, taking
   * them straight from its buffer: what a read does not take stays with the
   * writer, whose write goes on waiting.
   *
   * @param p Where to put the bytes. An empty `p` waits, as Go's, until the
   *   other end has a write waiting (then 0, nothing taken), EOF (null), the
   *   deadline or a close.
   * @param options A signal or a timeout (ms) that ends this read early.
   * @returns The number of bytes read, or `null` once the other end closed
   *   or called `closeWrite`.
   * @throws {TimeoutError} The read deadline passed before a write came; nothing was taken.
   * @throws {ClosedError} This end was closed.
   * @throws {NetError} `signal` fired (`kind: "aborted"`).
   * @throws {TypeError} If `p` is not a Uint8Array or `signal` not an AbortSignal.
   */
  override read(p: Uint8Array, options?: IoOptions): Promise<number | null> {
    let checked: IoOptions | undefined;
    try {
      checkBytes(p, "PipeConn.read");
      if (options !== undefined) checked = checkIoOptions(options, "PipeConn.read");
    } catch (e) {
      return Promise.reject(e);
    }
    return withTimeout(checked?.signal, checked?.timeout, (signal) => this.#read(p, signal));
  }

  async #read(p: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    const io = coreOf(this);
    const fail = (why: unknown): NetError => io.error("read", why, { bytesRead: 0 });
    const due = io.closed ? CLOSED : dueInterrupt(io.readDeadline, signal);
    if (due !== undefined) throw fail(due);
    if (!this.#readTurn.tryAcquire()) {
      try {
        await this.#readTurn.acquire(io.readDeadline, signal);
      } catch (e) {
        throw fail(e);
      }
    }
    try {
      if (io.closed) throw CLOSED;
      const n = await this.#end.in.read(p, io.readDeadline, signal);
      if (n !== null && n > 0) {
        this.#bytesRead += n;
        this.#reads++;
      }
      return n;
    } catch (e) {
      throw fail(e);
    } finally {
      this.#readTurn.release();
    }
  }

  /**
   * Writes all of `p`: resolves once the other end's reads have taken every
   * byte. Concurrent writes wait their turn; each one's bytes are contiguous.
   *
   * @param p The bytes; read only while the write waits. An empty `p` waits,
   *   as Go's, until the other end is reading, then resolves with 0 (the read
   *   goes on waiting for bytes).
   * @param options A signal or a timeout (ms) that ends this write early.
   * @returns `p.length`, once the other end has read all of it.
   * @throws {TimeoutError} The write deadline passed; `bytesWritten` is
   *   exactly what the other end read, and nothing more of `p` is delivered.
   * @throws {ClosedError} This end was closed (`bytesWritten` as above).
   * @throws {NetError} The other end closed, or this end called `closeWrite`
   *   (`"broken-pipe"`), or `signal` fired (`"aborted"`).
   * @throws {TypeError} If `p` is not a Uint8Array or `signal` not an AbortSignal.
   */
  override write(p: Uint8Array, options?: IoOptions): Promise<number> {
    let checked: IoOptions | undefined;
    try {
      checkBytes(p, "PipeConn.write");
      if (options !== undefined) checked = checkIoOptions(options, "PipeConn.write");
    } catch (e) {
      return Promise.reject(e);
    }
    return withTimeout(checked?.signal, checked?.timeout, (signal) => this.#write(p, signal));
  }

  async #write(p: Uint8Array, signal: AbortSignal | undefined): Promise<number> {
    const io = coreOf(this);
    const due = io.closed ? CLOSED : dueInterrupt(io.writeDeadline, signal);
    if (due !== undefined) throw io.error("write", due, { bytesWritten: 0 });
    if (!this.#writeTurn.tryAcquire()) {
      try {
        await this.#writeTurn.acquire(io.writeDeadline, signal);
      } catch (e) {
        throw io.error("write", e, { bytesWritten: 0 });
      }
    }
    const start = performance.now();
    const offer = new Offer(p);
    try {
      if (io.closed) throw CLOSED;
      const n = await this.#end.out.write(offer, io.writeDeadline, signal);
      this.#bytesWritten += n;
      this.#writes++;
      return n;
    } catch (e) {
      this.#bytesWritten += offer.taken;
      throw io.error("write", e, { bytesWritten: offer.taken });
    } finally {
      this.#blockedMs += performance.now() - start;
      this.#writeTurn.release();
    }
  }

  /**
   * Shuts the sending side after the writes queued before this call: the
   * other end reads EOF and can still send. Later writes fail with a
   * `"broken-pipe"` NetError. Waiting for earlier writes is bounded by the
   * write deadline. Calling it again does nothing.
   *
   * @param options A signal or a timeout (ms) that bounds the wait for earlier writes.
   * @throws {ClosedError} If this end is closed.
   * @throws {TimeoutError} If the write deadline or `timeout` passed while
   *   earlier writes were pending.
   */
  override closeWrite(options?: IoOptions): Promise<void> {
    return withIoOptions(options, "PipeConn.closeWrite", (signal) => this.#closeWrite(signal));
  }

  async #closeWrite(signal: AbortSignal | undefined): Promise<void> {
    const io = coreOf(this);
    io.checkOpen("close");
    try {
      if (!this.#writeTurn.tryAcquire()) await this.#writeTurn.acquire(io.writeDeadline, signal);
    } catch (e) {
      throw io.error("close", e);
    }
    try {
      if (io.closed) throw io.error("close", CLOSED);
      this.#end.out.shutWriter();
    } finally {
      this.#writeTurn.release();
    }
  }

  /**
   * Closes this end: its pending and later operations fail with
   * {@linkcode ClosedError}; the other end reads EOF and its writes fail
   * with `"broken-pipe"`. Calling it again does nothing.
   */
  override close(): void {
    super.close(); // the core closes this end's PipeEnd: what waits in the channels fails
    this.#readTurn.close();
    this.#writeTurn.close();
  }

  /**
   * Counters, as {@linkcode Conn.stats}: `bytesWritten` counts the bytes the
   * other end read, and `writeBlockedMs` the time writes waited for it.
   *
   * @returns A fresh snapshot.
   */
  override stats(): ConnStats {
    return {
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      reads: this.#reads,
      writes: this.#writes,
      writeQueueDepth: this.#writeTurn.depth,
      writeBlockedMs: this.#blockedMs,
    };
  }

  /**
   * This end as a byte stream, as {@linkcode Conn.readable}: each pull is one
   * {@linkcode PipeConn.read}, so the stream reads only when asked and never
   * ahead of its reader.
   */
  override get readable(): ReadableStream<Uint8Array> {
    if (this.#readable !== null) return this.#readable;
    const stream: ReadableStream<Uint8Array> = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: STREAM_READ,
      pull: async (controller) => {
        const request = controller.byobRequest!;
        const view = request.view!;
        let n: number | null;
        try {
          n = await this.read(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        } catch (e) {
          if (this.#readable === stream) this.#readable = null;
          throw e;
        }
        if (n === null) {
          controller.close();
          request.respond(0);
        } else {
          request.respond(n);
        }
      },
    });
    return this.#readable = stream;
  }
}

/** The size of a stream's chunk when its reader brings no buffer. */
const STREAM_READ = 16 * 1024;

/** A write waiting for reads: `taken` bytes of `p` have been read so far. */
class Offer {
  readonly p: Uint8Array;
  taken = 0; // 0 <= taken <= p.length; p[taken..] is what is left
  /** Settles the write: its count, or why it ended. Set while it waits. */
  done: ((result: number | Interrupt | Error) => void) | null = null;

  constructor(p: Uint8Array) {
    this.p = p;
  }
}

/** A read waiting for a write: `p` is the caller's buffer. */
interface Request {
  p: Uint8Array;
  done(result: number | null | Interrupt | Error): void;
}

/**
 * Channel is one direction of a pipe, as Go's pair of unbuffered channels:
 * it holds no bytes. A write waits (as the one offer) until reads of the
 * other end have copied all of it, each read straight from the writer's
 * buffer into the reader's; a read waits (as the one request) for an
 * offer. The two ends' turns keep at most one of each.
 *
 *   state   open ──writer shut (closeWrite, close)──▶ reads: null; writes: BrokenPipe
 *             └────reader gone (close)──────────────▶ writes: BrokenPipe
 */
class Channel {
  #offer: Offer | null = null; // the write waiting, or null
  #request: Request | null = null; // the read waiting, or null
  #writerShut = false;
  #readerGone = false;

  /**
   * Waits until reads took all of `offer` (resolves with its length), or
   * rejects with why it ended: `offer.taken` is then what was read.
   */
  write(offer: Offer, deadline: Deadline, signal: AbortSignal | undefined): Promise<number> {
    if (this.#readerGone || this.#writerShut) return Promise.reject(brokenPipe());
    return wait<number>(deadline, signal, (done) => {
      offer.done = done;
      this.#offer = offer;
      this.#match();
    }, () => {
      if (this.#offer === offer) this.#offer = null;
    });
  }

  /** Waits for an offer and takes what fits in `p`; null once the writer shut. */
  read(p: Uint8Array, deadline: Deadline, signal: AbortSignal | undefined): Promise<number | null> {
    return wait<number | null>(deadline, signal, (done) => {
      this.#request = { p, done };
      this.#match();
    }, () => {
      this.#request = null;
    });
  }

  /** The writer shut its side: a waiting read and later ones return null. */
  shutWriter(): void {
    this.#writerShut = true;
    this.#match();
  }

  /** The writer's end closed: its waiting write fails with `error`; reads return null. */
  closeWriter(error: Interrupt): void {
    this.#writerShut = true;
    this.#endOffer(error);
    this.#match();
  }

  /** The reader's end closed: its waiting read fails with `error`; writes fail with BrokenPipe. */
  closeReader(error: Interrupt): void {
    this.#readerGone = true;
    const request = this.#request;
    this.#request = null;
    request?.done(error);
    this.#endOffer(brokenPipe());
  }

  #endOffer(result: number | Interrupt | Error): void {
    const offer = this.#offer;
    this.#offer = null;
    offer?.done?.(result);
  }

  /**
   * Hands bytes from the offer to the request, synchronously: a read takes
   * at most one offer's bytes, a write ends once every byte was taken.
   */
  #match(): void {
    const request = this.#request;
    if (request === null) return;
    const offer = this.#offer;
    if (offer === null) {
      if (this.#writerShut) {
        this.#request = null;
        request.done(null);
      }
      return;
    }
    const left = offer.p.length - offer.taken;
    if (left === 0) { // an empty write meets a read: it ends, the read waits on for bytes
      this.#endOffer(0);
      if (request.p.length === 0) {
        this.#request = null;
        request.done(0);
      }
      return;
    }
    const n = Math.min(request.p.length, left);
    if (n > 0) request.p.set(offer.p.subarray(offer.taken, offer.taken + n));
    offer.taken += n;
    this.#request = null;
    request.done(n); // an empty read ends with 0 once a write waits, taking nothing
    if (offer.taken === offer.p.length) this.#endOffer(offer.taken);
  }
}

/**
 * Waits for `start`'s operation to call back, unless the deadline passes or
 * the signal fires first: then `withdraw` takes the operation back, and the
 * wait rejects with the {@linkcode Interrupt}. The outcome is decided when
 * the callback runs; the promise settles then, or a turn later (see `settle`).
 */
function wait<T>(
  deadline: Deadline,
  signal: AbortSignal | undefined,
  start: (done: (result: T | Interrupt | Error) => void) => void,
  withdraw: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let over = false;
    const done = (result: T | Interrupt | Error): void => {
      if (over) return;
      over = true;
      deadline.unwatch(onExpire);
      signal?.removeEventListener("abort", onAbort);
      release();
      if (result instanceof Interrupt || result instanceof Error) {
        reject(result);
      } else {
        settle(() => resolve(result));
      }
    };
    const interrupt = (why: Interrupt): void => {
      if (over) return;
      withdraw();
      done(why);
    };
    const onExpire = (): void => interrupt(DEADLINE);
    const onAbort = (): void => interrupt(new Interrupt("abort", signal!.reason));
    hold();
    start(done);
    if (over) return;
    if (signal !== undefined) {
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) return onAbort();
    }
    deadline.watch(onExpire);
  });
}

/**
 * PipeEnd is one end of a pipe as the I/O core sees it: the shape of a Deno
 * stream conn over two channels. PipeConn reads and writes the channels
 * itself; the core uses the addresses and `close`.
 */
class PipeEnd implements RawStream {
  readonly localAddr: PipeAddr = { transport: "pipe" };
  readonly remoteAddr: PipeAddr = { transport: "pipe" };
  /** The channel this end reads. */
  readonly in: Channel;
  /** The channel this end writes. */
  readonly out: Channel;
  #closed = false;

  constructor(incoming: Channel, outgoing: Channel) {
    this.in = incoming;
    this.out = outgoing;
  }

  read(): Promise<number | null> {
    return Promise.reject(new Deno.errors.BadResource("a pipe end is read by its PipeConn"));
  }

  write(): Promise<number> {
    return Promise.reject(new Deno.errors.BadResource("a pipe end is written by its PipeConn"));
  }

  closeWrite(): Promise<void> {
    return Promise.reject(new Deno.errors.BadResource("a pipe end is shut by its PipeConn"));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.in.closeReader(CLOSED);
    this.out.closeWriter(CLOSED);
  }
}

function brokenPipe(): Error {
  return new Deno.errors.BrokenPipe("write on closed pipe");
}

// Raw operations waiting on any pipe keep the process alive, as a pending
// socket operation does: a deadline's timer does not by itself, and without
// this a read waiting on a deadline alone would see the event loop end.
let waiting = 0; // raw reads and writes waiting, over every pipe
let keepAlive: ReturnType<typeof setInterval> | undefined; // a ref'd timer while waiting > 0

function hold(): void {
  if (waiting++ === 0) keepAlive = setInterval(idle, 1 << 30);
}

function release(): void {
  if (--waiting === 0) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

function idle(): void {}

// A pipe's hand-offs settle promises, and promise callbacks run before any
// timer: two tasks talking over a pipe in a loop would never let the event
// loop turn, so no deadline could fire. After YIELD_MS of hand-offs without
// a turn, the next ones settle from a zero-delay timer: the event loop turns
// at least that often, as a socket's operations let it.
const YIELD_MS = 4;
let turnStart = performance.now(); // when hand-offs last let the event loop turn
let lastHandoff = turnStart; // when the last hand-off settled
let deferred: (() => void)[] | null = null; // settlements waiting for the turn

function settle(fn: () => void): void {
  const now = performance.now();
  if (now - lastHandoff >= YIELD_MS) turnStart = now; // a quiet gap: a new run of hand-offs
  lastHandoff = now;
  if (deferred !== null) {
    deferred.push(fn);
  } else if (now - turnStart < YIELD_MS) {
    fn();
  } else {
    deferred = [fn];
    setTimeout(flush, 0);
  }
}

function flush(): void {
  const due = deferred!;
  deferred = null;
  turnStart = performance.now();
  for (const fn of due) fn();
}
