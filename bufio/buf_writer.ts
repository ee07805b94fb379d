/**
 * {@linkcode BufWriter}: Go's `bufio.Writer` for Deno, over any
 * {@linkcode Writer} or a `WritableStream<Uint8Array>`.
 *
 * @module
 */

import { checkBytes, checked, checkInteger, checkString } from "../_check.ts";
import { Fifo, inTurn, resolvedCount } from "../_io/wait.ts";
import { type StreamAdapter, toReader, toWriter } from "./_stream.ts";
import { bufferSize, checkResult, MAX_EMPTY_OPS, RESOLVED, writeAll } from "./_util.ts";
import { NoProgressError, type Reader, type Writer } from "./io.ts";

const encoder = new TextEncoder();

/**
 * BufWriter adds a buffer to a {@linkcode Writer} or a
 * `WritableStream<Uint8Array>`, as Go's `bufio.Writer`: small writes collect
 * in memory and reach the destination in large ones.
 *
 * - Bytes reach the destination when the buffer is full or on
 *   {@linkcode flush}; call `flush` before you are done.
 * - Each flush of the buffer is one `write` call; over netconn's `Conn`, that
 *   is one contiguous run on the wire, whatever other tasks write. A write
 *   larger than the buffer goes straight to the destination, without a copy,
 *   when the buffer is empty.
 * - Errors are sticky, as in Go: once a write to the destination fails, every
 *   later write and flush fails with the same error until {@linkcode reset}.
 * - Operations called while another is waiting for the destination run after
 *   it, in call order, so concurrent callers never corrupt the buffer.
 * - For speed, use {@linkcode tryWrite}: it copies into the buffer
 *   synchronously and returns `false` instead of waiting. The pattern
 *   `if (!bw.tryWrite(p)) await bw.write(p);` runs 64-byte messages at
 *   0.9 to 1.0 times the speed of a hand-rolled buffer; awaiting
 *   {@linkcode write} for each costs a promise a message, about 0.3 times
 *   (bench/bufio_ratio.ts).
 * - Over a `WritableStream` every flush sends a copy of the buffer, since a
 *   stream may hold on to a chunk after its write resolves.
 * - Arguments are checked before anything starts: bytes must be a
 *   `Uint8Array`, text a string, a byte an integer from 0 to 255. A bad one is
 *   a TypeError or RangeError (a rejected promise from the methods that
 *   return one); nothing is buffered or sent, and the writer stays usable.
 *
 * @example Buffer many small messages, then flush
 * ```ts
 * import { BufWriter } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const writes: number[] = [];
 * const sink = { write: (p: Uint8Array) => (writes.push(p.length), Promise.resolve(p.length)) };
 * const bw = new BufWriter(sink, 64);
 * const msg = new Uint8Array(16);
 * for (let i = 0; i < 10; i++) {
 *   if (!bw.tryWrite(msg)) await bw.write(msg);
 * }
 * await bw.flush();
 * assert.deepEqual(writes, [64, 64, 32]);
 * ```
 */
export class BufWriter implements Writer {
  #buf: Uint8Array;
  #n = 0; // buffered bytes are #buf[0, #n); 0 <= #n <= #buf.length
  #wr: Writer;
  #adapter: StreamAdapter | undefined;
  #failed = false; // a write to the destination threw #err; sticky
  #err: unknown = undefined;
  #lock = new Fifo();
  // Where the synchronous fast paths may write up to: #buf.length while no
  // operation is queued or pending and no error is sticky, else -1, so one
  // comparison decides whether a fast path may run.
  #end: number;

  /**
   * Creates a BufWriter.
   *
   * @param wr The destination: a {@linkcode Writer}, or a
   *   `WritableStream<Uint8Array>`, which stays locked until
   *   {@linkcode reset}.
   * @param size The buffer size in bytes: an integer; 0 to 15 round up to
   *   16, so that every UTF-8 character fits (Go's `bufio.Writer` has no
   *   minimum and takes 0 for the default).
   * @throws {TypeError} When `size` is not a number.
   * @throws {RangeError} When `size` is negative, not an integer, or over
   *   1 GiB.
   * @throws {TypeError} When `wr` is neither a Writer nor a WritableStream,
   *   or the stream is locked.
   */
  constructor(wr: Writer | WritableStream<Uint8Array>, size: number = 4096) {
    this.#buf = new Uint8Array(bufferSize(size, "BufWriter"));
    this.#end = this.#buf.length;
    const { writer, adapter } = toWriter(wr, "BufWriter");
    this.#wr = writer;
    this.#adapter = adapter;
  }

  /** The buffer size in bytes. */
  get size(): number {
    return this.#buf.length;
  }

  /**
   * Returns how many bytes the buffer holds that have not been written to
   * the destination.
   *
   * @returns The number of buffered bytes.
   */
  buffered(): number {
    return this.#n;
  }

  /**
   * Returns how many more bytes fit in the buffer.
   *
   * @returns The number of free bytes in the buffer.
   */
  available(): number {
    return this.#buf.length - this.#n;
  }

  /**
   * Drops any buffered bytes and sticky error, and writes to `wr` from now
   * on. A stream given to the constructor or an earlier reset is unlocked.
   * Resetting to the BufWriter itself does nothing.
   *
   * @param wr The new destination.
   * @throws {Error} When a write or flush is pending.
   * @throws {TypeError} When `wr` is neither a Writer nor a WritableStream,
   *   or the stream is locked.
   */
  reset(wr: Writer | WritableStream<Uint8Array>): void {
    if (wr === this) return;
    if (this.#lock.locked) throw new Error("Cannot reset a BufWriter while a write is pending");
    const { writer, adapter } = toWriter(wr, "BufWriter.reset");
    this.#adapter?.release();
    this.#wr = writer;
    this.#adapter = adapter;
    this.#n = 0;
    this.#failed = false;
    this.#err = undefined;
    this.#end = this.#buf.length;
  }

  /**
   * Copies all of `p` into the buffer if it fits now, without waiting: the
   * synchronous fast path of {@linkcode write}, as Go's `Write` only touches
   * memory when the bytes fit. Returns `false`, having copied nothing, when
   * `p` does not fit in {@linkcode available} bytes, a write or flush is
   * pending, or the writer has failed; then call {@linkcode write}.
   *
   * @param p The bytes to buffer.
   * @returns Whether `p` was buffered.
   * @throws {TypeError} When `p` is not a Uint8Array.
   *
   * @example The fast pattern for many small messages
   * ```ts
   * import { BufWriter } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * let written = 0;
   * const sink = {
   *   write(p: Uint8Array) {
   *     written += p.length;
   *     return Promise.resolve(p.length);
   *   },
   * };
   * const bw = new BufWriter(sink, 16);
   * assert.equal(bw.tryWrite(new Uint8Array(10)), true);
   * assert.equal(bw.tryWrite(new Uint8Array(10)), false);
   * await bw.write(new Uint8Array(10));
   * await bw.flush();
   * assert.equal(written, 20);
   * ```
   */
  tryWrite(p: Uint8Array): boolean {
    if (!(p instanceof Uint8Array)) checkBytes(p, "BufWriter.tryWrite");
    const n = this.#n;
    const len = p.length;
    if (n + len > this.#end) return false;
    const buf = this.#buf;
    if (len < 16) {
      for (let i = 0; i < len; i++) buf[n + i] = p[i]!;
    } else {
      buf.set(p, n);
    }
    this.#n = n + len;
    return true;
  }

  /**
   * Writes all of `p`: into the buffer, flushing it as it fills; straight to
   * the destination when `p` is larger than the buffer and the buffer is
   * empty. When `p` fits, nothing is written to the destination and the
   * promise is already resolved; {@linkcode tryWrite} does the same without
   * the promise. `p` is not read after the promise settles.
   *
   * @param p The bytes to write.
   * @returns `p.length`.
   * @throws {TypeError} When `p` is not a Uint8Array; nothing is written.
   * @throws The destination's error, now or from an earlier failure.
   *
   * @example Buffer a write
   * ```ts
   * import { BufWriter } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const got: Uint8Array[] = [];
   * const bw = new BufWriter({ write: (p) => Promise.resolve(got.push(p.slice()) && p.length) });
   * assert.equal(await bw.write(new Uint8Array([1, 2])), 2);
   * assert.equal(got.length, 0);
   * await bw.flush();
   * assert.deepEqual(got, [new Uint8Array([1, 2])]);
   * ```
   */
  write(p: Uint8Array): Promise<number> {
    if (!(p instanceof Uint8Array)) {
      return Promise.reject(checked(() => checkBytes(p, "BufWriter.write")));
    }
    if (this.tryWrite(p)) return resolvedCount(p.length);
    if (this.#end >= 0 && p.length <= this.#buf.length) return this.#topUpFlushCopy(p);
    return this.#run(undefined, () => this.#write(p));
  }

  /**
   * Writes one byte.
   *
   * @param c The byte, 0 to 255.
   * @throws {TypeError} When `c` is not a number; nothing is written.
   * @throws {RangeError} When `c` is not an integer from 0 to 255.
   * @throws The destination's error, now or from an earlier failure.
   *
   * @example Buffer one byte
   * ```ts
   * import { BufWriter } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const bw = new BufWriter({ write: (p) => Promise.resolve(p.length) });
   * await bw.writeByte(0x41);
   * assert.equal(bw.buffered(), 1);
   * ```
   */
  writeByte(c: number): Promise<void> {
    const n = this.#n;
    if (n < this.#end && typeof c === "number" && (c & 0xff) === c) {
      this.#buf[n] = c;
      this.#n = n + 1;
      return RESOLVED;
    }
    const bad = checked(() => checkInteger(c, "BufWriter.writeByte", 0, 255));
    return this.#run(bad, async () => {
      this.#checkFailed();
      if (this.#n === this.#buf.length) await this.#flush();
      this.#buf[this.#n++] = c;
    });
  }

  /**
   * Writes `s` encoded as UTF-8, straight into the buffer (no intermediate
   * array), flushing it as it fills. A lone surrogate is written as U+FFFD.
   *
   * @param s The string to write.
   * @returns The number of bytes written.
   * @throws {TypeError} When `s` is not a string; nothing is written.
   * @throws The destination's error, now or from an earlier failure.
   *
   * @example Buffer UTF-8 text
   * ```ts
   * import { BufWriter } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const bw = new BufWriter({ write: (p) => Promise.resolve(p.length) });
   * assert.equal(await bw.writeString("héllo"), 6);
   * assert.equal(bw.buffered(), 6);
   * ```
   */
  writeString(s: string): Promise<number> {
    const n = this.#n;
    // Each UTF-16 unit encodes to at most 3 bytes.
    if (typeof s === "string" && n + s.length * 3 <= this.#end) {
      const { written } = encoder.encodeInto(s, this.#buf.subarray(n));
      this.#n = n + written;
      return resolvedCount(written);
    }
    const bad = checked(() => checkString(s, "BufWriter.writeString"));
    return this.#run(bad, () => this.#writeString(s));
  }

  /**
   * Writes the buffered bytes to the destination in one `write` call (more
   * only if the destination accepts part of them).
   *
   * @throws The destination's error, now or from an earlier failure; the
   *   bytes it did not accept stay buffered.
   *
   * @example Flush what is buffered
   * ```ts
   * import { BufWriter } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const bw = new BufWriter({ write: (p) => Promise.resolve(p.length) });
   * await bw.writeString("abc");
   * await bw.flush();
   * assert.equal(bw.buffered(), 0);
   * ```
   */
  flush(): Promise<void> {
    if (this.#n === 0 && this.#end >= 0) return RESOLVED;
    return this.#run(undefined, () => this.#flush());
  }

  /**
   * Reads from `rd` until it ends, into the buffer, flushing the buffer each
   * time it fills, as Go's `ReadFrom`. Like any write, the last bytes may
   * still be buffered afterwards: call {@linkcode flush}. An error of `rd`
   * is thrown but is not sticky.
   *
   * @param rd The source: a {@linkcode Reader}, or a
   *   `ReadableStream<Uint8Array>`, which is unlocked again at the end.
   * @returns The number of bytes read from `rd`.
   * @throws {TypeError} When `rd` is neither a Reader nor a ReadableStream,
   *   or the stream is locked; nothing is read or written.
   * @throws {NoProgressError} When `rd` returns no bytes 100 times in a row.
   * @throws Whatever `rd` threw, or the destination's error.
   *
   * @example Copy a stream
   * ```ts
   * import { BufWriter } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * let written = 0;
   * const sink = {
   *   write(p: Uint8Array) {
   *     written += p.length;
   *     return Promise.resolve(p.length);
   *   },
   * };
   * const bw = new BufWriter(sink, 16);
   * const source = ReadableStream.from([new Uint8Array(20), new Uint8Array(5)]);
   * assert.equal(await bw.readFrom(source), 25);
   * await bw.flush();
   * assert.equal(written, 25);
   * ```
   */
  readFrom(rd: Reader | ReadableStream<Uint8Array>): Promise<number> {
    let source: ReturnType<typeof toReader>;
    try {
      source = toReader(rd, "BufWriter.readFrom");
    } catch (err) {
      return Promise.reject(err);
    }
    const { reader, adapter } = source;
    return this.#run(undefined, async () => {
      try {
        return await this.#readFrom(reader);
      } finally {
        adapter?.release();
      }
    });
  }

  // Runs a slow operation once every earlier one has finished, or rejects
  // with `bad`, starting nothing, when the arguments were bad. The fast paths
  // stay closed from the call until the last queued operation has finished.
  #run<T>(bad: Error | undefined, op: () => Promise<T>): Promise<T> {
    return bad === undefined ? this.#inTurn(op) : Promise.reject(bad);
  }

  async #inTurn<T>(op: () => Promise<T>): Promise<T> {
    this.#end = -1;
    try {
      return await inTurn(this.#lock, op);
    } finally {
      if (!this.#lock.locked) this.#end = this.#failed ? -1 : this.#buf.length;
    }
  }

  // The common slow path of write, in one async frame: nothing is pending or
  // failed and p fits in an empty buffer. As Go, fill the buffer, flush it,
  // then buffer the rest.
  async #topUpFlushCopy(p: Uint8Array): Promise<number> {
    this.#end = -1;
    this.#lock.tryAcquire(); // free: #end >= 0 said so
    try {
      const fit = this.#buf.length - this.#n;
      if (fit > 0) this.#buf.set(p.subarray(0, fit), this.#n);
      this.#n += fit;
      await this.#flush();
      this.#buf.set(fit > 0 ? p.subarray(fit) : p);
      this.#n = p.length - fit;
      return p.length;
    } finally {
      this.#lock.release();
      if (!this.#lock.locked) this.#end = this.#failed ? -1 : this.#buf.length;
    }
  }

  #checkFailed(): void {
    if (this.#failed) throw this.#err;
  }

  // Writes buf[0, n) to the destination. On failure keeps the bytes it did not
  // accept at the front of the buffer and makes the error sticky.
  async #flush(): Promise<void> {
    this.#checkFailed();
    if (this.#n === 0) return;
    const progress = { written: 0 };
    try {
      await writeAll(this.#wr, this.#buf.subarray(0, this.#n), progress);
    } catch (err) {
      const left = this.#n - progress.written;
      if (progress.written > 0) this.#buf.copyWithin(0, progress.written, this.#n);
      this.#n = left;
      this.#fail(err);
    }
    this.#n = 0;
  }

  #fail(err: unknown): never {
    this.#failed = true;
    this.#err = err;
    throw err;
  }

  async #write(p: Uint8Array): Promise<number> {
    this.#checkFailed();
    const total = p.length;
    while (p.length > this.#buf.length - this.#n) {
      if (this.#n === 0) {
        // Large write, empty buffer: straight to the destination, no copy.
        try {
          await writeAll(this.#wr, p);
        } catch (err) {
          this.#fail(err);
        }
        return total;
      }
      const fit = this.#buf.length - this.#n;
      this.#buf.set(p.subarray(0, fit), this.#n);
      this.#n += fit;
      p = p.subarray(fit);
      await this.#flush();
    }
    this.#buf.set(p, this.#n);
    this.#n += p.length;
    return total;
  }

  async #writeString(s: string): Promise<number> {
    this.#checkFailed();
    let total = 0;
    for (;;) {
      const { read, written } = encoder.encodeInto(s, this.#buf.subarray(this.#n));
      this.#n += written;
      total += written;
      if (read === s.length) return total;
      s = s.substring(read);
      await this.#flush(); // the empty buffer, at least 16 bytes, takes the next character
    }
  }

  async #readFrom(rd: Reader): Promise<number> {
    this.#checkFailed();
    let total = 0;
    for (;;) {
      if (this.#n === this.#buf.length) await this.#flush();
      const room = this.#buf.subarray(this.#n);
      let n = 0;
      let empty = 0;
      for (;;) {
        const got = await rd.read(room);
        if (got === null) {
          // Go flushes a buffer that the last read filled exactly.
          if (this.#n === this.#buf.length) await this.#flush();
          return total;
        }
        n = checkResult(got, room.length, "Reader");
        if (n > 0) break;
        if (++empty >= MAX_EMPTY_OPS) {
          throw new NoProgressError(`Reader returned no bytes in ${MAX_EMPTY_OPS} reads in a row`);
        }
      }
      this.#n += n;
      total += n;
    }
  }
}
