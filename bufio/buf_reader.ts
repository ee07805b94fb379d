/**
 * {@linkcode BufReader}: Go's `bufio.Reader` for Deno, over any
 * {@linkcode Reader} or a `ReadableStream<Uint8Array>`, with its errors
 * {@linkcode BufferFullError} and {@linkcode UnexpectedEofError}.
 *
 * @module
 */

import {
  _bufferSize,
  _checkByte,
  _checkCount,
  _checkResult,
  _concat,
  _Lock,
  _locked,
  MAX_EMPTY_OPS,
} from "./_util.ts";
import { type _StreamAdapter, _toReader } from "./_stream.ts";
import { NoProgressError, type Reader } from "./io.ts";

const LF = 0x0a;
const CR = 0x0d;
/** Default limit of {@linkcode BufReader.readString} (16 MiB). */
const DEFAULT_MAX_STRING = 16 * 1024 * 1024;
const decoder = new TextDecoder();

/**
 * BufferFullError says a {@linkcode BufReader} could not find a delimiter
 * within its buffer ({@linkcode BufReader.readSlice}) or within a limit
 * ({@linkcode BufReader.readString}), or was asked to peek at more bytes than
 * its buffer holds ({@linkcode BufReader.peek}).
 *
 * `partial` holds the bytes in question. From `readSlice` and `readString`
 * they have been consumed (the next read starts after them); from `peek` they
 * have not. A `partial` from `readSlice` or `peek` is a view of the reader's
 * buffer and stops being valid at the next read.
 *
 * @example A line longer than the buffer
 * ```ts
 * import { BufferFullError, BufReader } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const text = new TextEncoder().encode("x".repeat(20) + "\n");
 * const br = new BufReader(ReadableStream.from([text]), 16);
 * const err = await br.readSlice(0x0a).catch((e) => e);
 * assert.ok(err instanceof BufferFullError);
 * assert.equal(err.partial.length, 16);
 * ```
 */
export class BufferFullError extends Error {
  /** The bytes read or peeked at when the buffer filled. */
  readonly partial: Uint8Array;

  /**
   * Builds the error.
   *
   * @param partial The bytes read or peeked at when the buffer filled.
   * @param message What did not fit.
   */
  constructor(partial: Uint8Array, message = "Buffer full") {
    super(message);
    this.name = "BufferFullError";
    this.partial = partial;
  }
}

/**
 * UnexpectedEofError is Go's `io.ErrUnexpectedEOF`: the stream ended part-way
 * through a read that needed a fixed number of bytes
 * ({@linkcode BufReader.readFull}, {@linkcode BufReader.readExact}, a frame).
 * `partial` holds the bytes that did arrive, and `expected` how many were
 * needed.
 *
 * @example The stream ends after 3 of 8 bytes
 * ```ts
 * import { BufReader, UnexpectedEofError } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const br = new BufReader(ReadableStream.from([new Uint8Array([1, 2, 3])]));
 * const err = await br.readExact(8).catch((e) => e);
 * assert.ok(err instanceof UnexpectedEofError);
 * assert.deepEqual(err.partial, new Uint8Array([1, 2, 3]));
 * assert.equal(err.expected, 8);
 * ```
 */
export class UnexpectedEofError extends Error {
  /** The bytes that arrived before the end of the stream. */
  readonly partial: Uint8Array;
  /** How many bytes the read needed. */
  readonly expected: number;

  /**
   * Builds the error.
   *
   * @param partial The bytes that arrived before the end of the stream.
   * @param expected How many bytes the read needed.
   */
  constructor(partial: Uint8Array, expected: number) {
    super(`Unexpected EOF: got ${partial.length} of ${expected} bytes`);
    this.name = "UnexpectedEofError";
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * ReadLineResult is one line, or one piece of a long line, from
 * {@linkcode BufReader.readLine}.
 *
 * @example Join the pieces of a line longer than the buffer
 * ```ts
 * import { BufReader, type ReadLineResult } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const br = new BufReader(ReadableStream.from([new TextEncoder().encode("a".repeat(20) + "\n")]), 16);
 * let line = "";
 * let piece: ReadLineResult | null;
 * do {
 *   piece = await br.readLine();
 *   line += new TextDecoder().decode(piece!.line);
 * } while (piece!.more);
 * assert.equal(line, "a".repeat(20));
 * ```
 */
export interface ReadLineResult {
  /**
   * The line without its `"\n"` or `"\r\n"`: a view of the reader's buffer,
   * valid until the next read.
   */
  line: Uint8Array;
  /**
   * True when the line was longer than the buffer and `line` is only its
   * beginning; the rest comes from the next calls (Go's `isPrefix`).
   */
  more: boolean;
}

/**
 * ReadStringOptions are the options of {@linkcode BufReader.readString}.
 *
 * @example Refuse strings over 8 bytes
 * ```ts
 * import { BufferFullError, BufReader, type ReadStringOptions } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const options: ReadStringOptions = { maxLength: 8 };
 * const br = new BufReader(ReadableStream.from([new TextEncoder().encode("far too long\n")]));
 * await assert.rejects(br.readString(0x0a, options), BufferFullError);
 * ```
 */
export interface ReadStringOptions {
  /**
   * The longest string, in bytes with its delimiter, to collect; a longer
   * one fails with {@linkcode BufferFullError}, so an endless line costs
   * bounded memory.
   *
   * @default {16777216}
   */
  maxLength?: number;
}

/**
 * Package-internal synchronous access to a BufReader's buffer, for the fast
 * paths of the frame and line readers; not exported from `bufio.ts`.
 */
export interface _BufReaderInternal {
  /** The whole buffer. */
  buffer(br: BufReader): Uint8Array;
  /** Start of the buffered bytes, or -1 while a read is pending. */
  start(br: BufReader): number;
  /** End of the buffered bytes. */
  end(br: BufReader): number;
  /** Consumes `n` buffered bytes. */
  consume(br: BufReader, n: number): void;
}

/** See {@linkcode _BufReaderInternal}; filled in by BufReader's static block. */
export const _bufReaderInternal = {} as _BufReaderInternal;

/**
 * BufReader adds a buffer to a {@linkcode Reader} or a
 * `ReadableStream<Uint8Array>` (read through a BYOB reader when it is a byte
 * stream), as Go's `bufio.Reader`: few large reads from the source, many small
 * ones from memory, and line, delimiter and fixed-size reads on top.
 *
 * - End of stream is `null`, as in Deno. Bytes buffered before the end or an
 *   error of the source are always handed out first; the error comes after.
 * - Views returned by {@linkcode peek}, {@linkcode readSlice} and
 *   {@linkcode readLine} point into the buffer and stop being valid when the
 *   next read starts. Copy them (`slice()`) to keep them. A call queued
 *   behind another starts as soon as that one ends, so concurrent callers
 *   should use the methods that return owned results
 *   ({@linkcode readString}, {@linkcode readExact}, {@linkcode readFull}).
 * - 100 reads in a row that return no bytes end in
 *   {@linkcode NoProgressError}.
 * - Operations called while another is waiting for the source run after it,
 *   in call order; the synchronous fast paths only run when none is pending.
 *
 * @example Read lines and a fixed-size record
 * ```ts
 * import { BufReader } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const data = new TextEncoder().encode("HELLO 3\r\nabc");
 * const br = new BufReader(ReadableStream.from([data]));
 * const head = await br.readLine();
 * assert.equal(new TextDecoder().decode(head!.line), "HELLO 3");
 * assert.deepEqual(await br.readExact(3), new TextEncoder().encode("abc"));
 * assert.equal(await br.readByte(), null);
 * ```
 */
export class BufReader implements Reader {
  #buf: Uint8Array;
  #rd: Reader;
  #adapter: _StreamAdapter | undefined;
  #r = 0; // next byte to hand out
  #w = 0; // end of the buffered bytes; 0 <= #r <= #w <= #buf.length
  #lastByte = -1; // last byte handed out, for unreadByte; -1 when there is none
  #eof = false; // the source reported end of stream, not yet reported to the caller
  #failed = false; // the source threw #err, not yet reported to the caller
  #err: unknown = undefined;
  #full = false; // set by #slice when the buffer filled without the delimiter
  #lock = new _Lock();

  static {
    _bufReaderInternal.buffer = (br) => br.#buf;
    _bufReaderInternal.start = (br) => br.#lock.locked ? -1 : br.#r;
    _bufReaderInternal.end = (br) => br.#w;
    _bufReaderInternal.consume = (br, n) => {
      br.#r += n;
      br.#lastByte = -1;
    };
  }

  /**
   * Creates a BufReader.
   *
   * @param rd The source: a {@linkcode Reader}, or a
   *   `ReadableStream<Uint8Array>`, which stays locked until
   *   {@linkcode reset}.
   * @param size The buffer size in bytes: an integer; 0 to 15 round up to 16,
   *   as Go's `bufio.NewReaderSize`.
   * @throws {RangeError} When `size` is negative, not an integer, or over
   *   1 GiB.
   * @throws {TypeError} When `rd` is neither a Reader nor a ReadableStream,
   *   or the stream is locked.
   */
  constructor(rd: Reader | ReadableStream<Uint8Array>, size: number = 4096) {
    this.#buf = new Uint8Array(_bufferSize(size));
    const { reader, adapter } = _toReader(rd);
    this.#rd = reader;
    this.#adapter = adapter;
  }

  /** The buffer size in bytes. */
  get size(): number {
    return this.#buf.length;
  }

  /**
   * Returns the number of bytes that can be read from the buffer without
   * reading from the source.
   *
   * @returns The number of buffered bytes.
   */
  buffered(): number {
    return this.#w - this.#r;
  }

  /**
   * Discards any buffered bytes and pending end or error, and reads from `rd`
   * from now on. A stream given to the constructor or an earlier reset is
   * unlocked. Resetting to the BufReader itself does nothing.
   *
   * @param rd The new source.
   * @throws {Error} When a read is pending.
   * @throws {TypeError} When `rd` is neither a Reader nor a ReadableStream,
   *   or the stream is locked.
   */
  reset(rd: Reader | ReadableStream<Uint8Array>): void {
    if (rd === this) return;
    if (this.#lock.locked) throw new Error("Cannot reset a BufReader while a read is pending");
    const { reader, adapter } = _toReader(rd);
    this.#adapter?.release();
    this.#rd = reader;
    this.#adapter = adapter;
    this.#r = this.#w = 0;
    this.#lastByte = -1;
    this.#eof = this.#failed = false;
    this.#err = undefined;
  }

  /**
   * Reads up to `p.length` bytes into `p`, with at most one read from the
   * source: buffered bytes if there are any, otherwise one fill of the
   * buffer, or one read straight into `p` when `p` is at least as large as
   * the buffer. Resolves with more than 0 bytes unless `p` is empty.
   *
   * @param p The buffer to read into.
   * @returns The number of bytes read, or `null` at end of stream.
   * @throws Whatever the source threw, once the buffered bytes are read.
   *
   * @example Read in small pieces
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new Uint8Array([1, 2, 3])]));
   * const p = new Uint8Array(2);
   * assert.equal(await br.read(p), 2);
   * assert.equal(await br.read(p), 1);
   * assert.equal(await br.read(p), null);
   * ```
   */
  read(p: Uint8Array): Promise<number | null> {
    const r = this.#r;
    const avail = this.#w - r;
    if (avail > 0 && !this.#lock.locked) {
      const n = p.length < avail ? p.length : avail;
      if (n > 0) this.#take(p, r, n);
      return Promise.resolve(n);
    }
    return this.#run(() => this.#read(p));
  }

  /**
   * Reads one byte.
   *
   * @returns The byte, or `null` at end of stream.
   * @throws Whatever the source threw, once the buffered bytes are read.
   *
   * @example Read byte by byte
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new Uint8Array([7])]));
   * assert.equal(await br.readByte(), 7);
   * assert.equal(await br.readByte(), null);
   * ```
   */
  readByte(): Promise<number | null> {
    if (this.#r < this.#w && !this.#lock.locked) {
      const c = this.#buf[this.#r++]!;
      this.#lastByte = c;
      return Promise.resolve(c);
    }
    return this.#run(() => this.#readByte());
  }

  /**
   * Puts back the last byte read, so the next read returns it again. Only
   * the most recent read can be undone, and only when it read bytes: after
   * {@linkcode peek}, {@linkcode discard}, another unreadByte or a read that
   * returned nothing it fails, as Go's `UnreadByte`.
   *
   * @throws {Error} When there is no byte to put back, or a read is pending.
   *
   * @example Put a byte back
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new Uint8Array([7, 8])]));
   * assert.equal(await br.readByte(), 7);
   * br.unreadByte();
   * assert.equal(await br.readByte(), 7);
   * assert.throws(() => {
   *   br.unreadByte();
   *   br.unreadByte();
   * });
   * ```
   */
  unreadByte(): void {
    if (this.#lock.locked) throw new Error("Cannot unread a byte while a read is pending");
    if (this.#lastByte < 0 || (this.#r === 0 && this.#w > 0)) {
      throw new Error("Cannot unread a byte: the last operation did not read one");
    }
    if (this.#r > 0) this.#r--;
    else this.#w = 1;
    this.#buf[this.#r] = this.#lastByte;
    this.#lastByte = -1;
  }

  /**
   * Returns the next `n` bytes without consuming them, reading from the
   * source until they are buffered. The view is valid until the next read.
   *
   * @param n How many bytes to look at: an integer from 0 to
   *   {@linkcode size}.
   * @returns A view of the next `n` bytes; fewer only when the stream ended
   *   first (empty at end of stream).
   * @throws {BufferFullError} When `n` is larger than the buffer; `partial`
   *   holds the buffered bytes, still unread.
   * @throws {RangeError} When `n` is negative or not an integer.
   * @throws Whatever the source threw; the buffered bytes stay unread.
   *
   * @example Look ahead without consuming
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new Uint8Array([1, 2, 3])]));
   * assert.deepEqual(await br.peek(2), new Uint8Array([1, 2]));
   * assert.equal(await br.readByte(), 1);
   * assert.deepEqual(await br.peek(5), new Uint8Array([2, 3]));
   * ```
   */
  peek(n: number): Promise<Uint8Array> {
    if (Number.isInteger(n) && n >= 0 && n <= this.#w - this.#r && !this.#lock.locked) {
      this.#lastByte = -1;
      return Promise.resolve(this.#buf.subarray(this.#r, this.#r + n));
    }
    return this.#run(() => this.#peek(n));
  }

  /**
   * Reads up to and including the first `delim`, as Go's `ReadSlice`. The
   * view points into the buffer and is valid until the next read. It ends in
   * `delim` unless the stream ended first, in which case it holds the bytes
   * that remained.
   *
   * @param delim The delimiter byte, 0 to 255.
   * @returns The bytes up to and including `delim`, or `null` at end of
   *   stream.
   * @throws {BufferFullError} When the buffer fills without `delim`;
   *   `partial` holds the full buffer, consumed.
   * @throws {RangeError} When `delim` is not a byte value.
   * @throws Whatever the source threw; the bytes before it stay buffered, so
   *   a later call (after a read deadline is moved, say) returns them with
   *   the rest of the slice.
   *
   * @example Split on a delimiter
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new TextEncoder().encode("a,bc")]));
   * assert.deepEqual(await br.readSlice(0x2c), new TextEncoder().encode("a,"));
   * assert.deepEqual(await br.readSlice(0x2c), new TextEncoder().encode("bc"));
   * assert.equal(await br.readSlice(0x2c), null);
   * ```
   */
  readSlice(delim: number): Promise<Uint8Array | null> {
    if (!this.#lock.locked) {
      const buf = this.#buf;
      const i = buf.indexOf(delim, this.#r);
      if (i >= 0 && i < this.#w) {
        const line = buf.subarray(this.#r, i + 1);
        this.#r = i + 1;
        this.#lastByte = delim;
        return Promise.resolve(line);
      }
    }
    return this.#run(async () => {
      _checkByte(delim, "Delimiter");
      const line = await this.#slice(delim);
      if (this.#full) {
        throw new BufferFullError(line!, `Buffer full: no delimiter within ${this.size} bytes`);
      }
      return line;
    });
  }

  /**
   * Reads one line, as Go's `ReadLine`: the bytes up to `"\n"`, without the
   * `"\n"` or `"\r\n"`. A line longer than the buffer comes in pieces: each
   * but the last has `more: true`, so memory stays bounded whatever the
   * input. A `"\r\n"` split across two buffer fills is still removed whole.
   * A last line without `"\n"` is returned as it is.
   *
   * @returns The line, a view valid until the next read, or `null` at end
   *   of stream.
   * @throws Whatever the source threw; as with {@linkcode readSlice}, the
   *   bytes of an unfinished line stay buffered.
   *
   * @example Read lines ending in "\n" or "\r\n"
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new TextEncoder().encode("a\r\nb")]));
   * const decode = (r: { line: Uint8Array } | null) => new TextDecoder().decode(r!.line);
   * assert.equal(decode(await br.readLine()), "a");
   * assert.equal(decode(await br.readLine()), "b");
   * assert.equal(await br.readLine(), null);
   * ```
   */
  readLine(): Promise<ReadLineResult | null> {
    if (!this.#lock.locked) {
      const buf = this.#buf;
      const r = this.#r;
      const i = buf.indexOf(LF, r);
      if (i >= 0 && i < this.#w) {
        this.#r = i + 1;
        this.#lastByte = LF;
        const end = i > r && buf[i - 1] === CR ? i - 1 : i;
        return Promise.resolve({ line: buf.subarray(r, end), more: false });
      }
    }
    return this.#run(() => this.#readLine());
  }

  /**
   * Reads up to and including the first `delim` and decodes the bytes as
   * UTF-8, as Go's `ReadString`. Unlike Go it has a limit, so a peer that
   * never sends `delim` cannot make it buffer without end. The string ends
   * in `delim` unless the stream ended first.
   *
   * @param delim The delimiter byte, 0 to 255.
   * @param options The length limit.
   * @returns The string, or `null` at end of stream.
   * @throws {BufferFullError} When more than `maxLength` bytes come without
   *   `delim`; `partial` holds a copy of the bytes read, consumed.
   * @throws {RangeError} When `delim` or `maxLength` is out of range.
   * @throws Whatever the source threw. The bytes of a string that fits in
   *   the buffer stay buffered for a later call; the pieces already read of
   *   a longer one are lost.
   *
   * @example Read delimited strings
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new TextEncoder().encode("héllo\nrest")]));
   * assert.equal(await br.readString(0x0a), "héllo\n");
   * assert.equal(await br.readString(0x0a), "rest");
   * assert.equal(await br.readString(0x0a), null);
   * ```
   */
  readString(delim: number, options?: ReadStringOptions): Promise<string | null> {
    return this.#run(() => this.#readString(delim, options?.maxLength ?? DEFAULT_MAX_STRING));
  }

  /**
   * Fills all of `p`, as Go's `io.ReadFull`. When `p` is no larger than the
   * buffer this is all or nothing: the bytes are buffered first, so if the
   * source fails (a read deadline passes, say) nothing is consumed and a later
   * call gets them all. A larger `p` is filled as the bytes come.
   *
   * @param p The buffer to fill.
   * @returns `p`, full; or `null` when the stream ended before any byte (an
   *   empty `p` always resolves to `p`).
   * @throws {UnexpectedEofError} When the stream ended part-way; `partial` is
   *   the filled start of `p`.
   * @throws Whatever the source threw; see above for what was consumed.
   *
   * @example Fill a fixed-size buffer
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new Uint8Array([1]), new Uint8Array([2, 3])]));
   * const p = new Uint8Array(3);
   * assert.equal(await br.readFull(p), p);
   * assert.deepEqual(p, new Uint8Array([1, 2, 3]));
   * assert.equal(await br.readFull(p), null);
   * ```
   */
  readFull(p: Uint8Array): Promise<Uint8Array | null> {
    const r = this.#r;
    if (p.length <= this.#w - r && !this.#lock.locked) {
      if (p.length > 0) this.#take(p, r, p.length);
      return Promise.resolve(p);
    }
    return this.#run(() => this.#readFull(p));
  }

  /**
   * Reads exactly `n` bytes into a new array, which the caller owns; all or
   * nothing when `n` is no larger than the buffer, as {@linkcode readFull}.
   *
   * @param n How many bytes to read: a non-negative integer.
   * @returns The bytes, or `null` when the stream ended before any byte.
   * @throws {UnexpectedEofError} When the stream ended part-way.
   * @throws {RangeError} When `n` is negative or not an integer.
   * @throws Whatever the source threw.
   *
   * @example Read a fixed number of bytes
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new Uint8Array([1, 2, 3])]));
   * assert.deepEqual(await br.readExact(2), new Uint8Array([1, 2]));
   * ```
   */
  readExact(n: number): Promise<Uint8Array | null> {
    try {
      _checkCount(n, "Byte count");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.readFull(new Uint8Array(n));
  }

  /**
   * Skips the next `n` bytes, reading from the source as needed.
   *
   * @param n How many bytes to skip: a non-negative integer.
   * @returns The number of bytes skipped; fewer than `n` only when the
   *   stream ended first.
   * @throws {RangeError} When `n` is negative or not an integer.
   * @throws Whatever the source threw.
   *
   * @example Skip bytes
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new Uint8Array([1, 2, 3])]));
   * assert.equal(await br.discard(2), 2);
   * assert.equal(await br.discard(5), 1);
   * ```
   */
  discard(n: number): Promise<number> {
    if (Number.isSafeInteger(n) && n >= 0 && n <= this.#w - this.#r && !this.#lock.locked) {
      this.#r += n;
      this.#lastByte = -1;
      return Promise.resolve(n);
    }
    return this.#run(() => this.#discard(n));
  }

  // Copies n buffered bytes from r into p and consumes them; n > 0.
  #take(p: Uint8Array, r: number, n: number): void {
    const buf = this.#buf;
    if (n <= 16) {
      for (let i = 0; i < n; i++) p[i] = buf[r + i]!;
    } else {
      p.set(buf.subarray(r, r + n));
    }
    this.#r = r + n;
    this.#lastByte = buf[r + n - 1]!;
  }

  // Runs a slow operation once every earlier one has finished.
  #run<T>(op: () => Promise<T>): Promise<T> {
    return _locked(this.#lock, op);
  }

  // True when the last fill left an end of stream or error to report.
  #ended(): boolean {
    return this.#eof || this.#failed;
  }

  // Reports what the last fill left, once: rethrows the source's error, or
  // returns null for end of stream.
  #end(): null {
    if (this.#failed) {
      const err = this.#err;
      this.#failed = false;
      this.#err = undefined;
      throw err;
    }
    this.#eof = false;
    return null;
  }

  // Slides the buffered bytes to the front and reads once more into the rest
  // of the buffer, allowing MAX_EMPTY_OPS empty reads. The buffer must not be
  // full. An end of stream or error is recorded, not thrown.
  async #fill(): Promise<void> {
    const buf = this.#buf;
    if (this.#r > 0) {
      buf.copyWithin(0, this.#r, this.#w);
      this.#w -= this.#r;
      this.#r = 0;
    }
    const room = buf.subarray(this.#w);
    for (let i = 0; i < MAX_EMPTY_OPS; i++) {
      let n: number;
      try {
        const got = await this.#rd.read(room);
        if (got === null) {
          this.#eof = true;
          return;
        }
        n = _checkResult(got, room.length, "Reader");
      } catch (err) {
        this.#failed = true;
        this.#err = err;
        return;
      }
      this.#w += n;
      if (n > 0) return;
    }
    this.#failed = true;
    this.#err = new NoProgressError(`Reader returned no bytes in ${MAX_EMPTY_OPS} reads in a row`);
  }

  async #read(p: Uint8Array): Promise<number | null> {
    this.#lastByte = -1;
    if (this.#r === this.#w) {
      if (this.#ended()) return this.#end();
      if (p.length === 0) return 0;
      if (p.length >= this.#buf.length) {
        // A large read into an empty buffer goes straight into p: no copy.
        const n = await this.#readDirect(p);
        if (n !== null) this.#lastByte = p[n - 1]!;
        return n;
      }
      await this.#fill();
      if (this.#r === this.#w) return this.#end();
    }
    const avail = this.#w - this.#r;
    const n = p.length < avail ? p.length : avail;
    if (n > 0) this.#take(p, this.#r, n);
    return n;
  }

  // Reads from the source straight into p; resolves with n > 0 or null.
  async #readDirect(p: Uint8Array): Promise<number | null> {
    for (let i = 0; i < MAX_EMPTY_OPS; i++) {
      const got = await this.#rd.read(p);
      if (got === null) return null;
      const n = _checkResult(got, p.length, "Reader");
      if (n > 0) return n;
    }
    throw new NoProgressError(`Reader returned no bytes in ${MAX_EMPTY_OPS} reads in a row`);
  }

  async #readByte(): Promise<number | null> {
    this.#lastByte = -1;
    while (this.#r === this.#w) {
      if (this.#ended()) return this.#end();
      await this.#fill();
    }
    const c = this.#buf[this.#r++]!;
    this.#lastByte = c;
    return c;
  }

  async #peek(n: number): Promise<Uint8Array> {
    _checkCount(n, "Peek count");
    this.#lastByte = -1;
    const size = this.#buf.length;
    while (this.#w - this.#r < n && this.#w - this.#r < size && !this.#ended()) {
      await this.#fill();
    }
    if (n > size) {
      throw new BufferFullError(
        this.#buf.subarray(this.#r, this.#w),
        `Buffer full: cannot peek ${n} bytes with a ${size}-byte buffer`,
      );
    }
    // Fewer than n bytes means the stream ended or failed: an end of stream
    // stays pending for the read that consumes the last bytes.
    if (this.#w - this.#r < n && this.#failed) this.#end();
    return this.#buf.subarray(this.#r, Math.min(this.#r + n, this.#w));
  }

  // Go's ReadSlice without the error for a full buffer: sets #full instead.
  // The bytes left at end of stream come back as a last slice, leaving the
  // end pending for the next call; an error leaves them buffered.
  async #slice(delim: number): Promise<Uint8Array | null> {
    this.#full = false;
    this.#lastByte = -1;
    const buf = this.#buf;
    let searched = 0; // bytes after #r already searched for delim
    let line: Uint8Array;
    for (;;) {
      const i = buf.subarray(this.#r + searched, this.#w).indexOf(delim);
      if (i >= 0) {
        const end = this.#r + searched + i + 1;
        line = buf.subarray(this.#r, end);
        this.#r = end;
        break;
      }
      if (this.#ended()) {
        // An error leaves the partial line buffered for a later call; the
        // end of the stream hands it out.
        if (this.#failed || this.#r === this.#w) return this.#end();
        line = buf.subarray(this.#r, this.#w);
        this.#r = this.#w;
        break;
      }
      if (this.#w - this.#r >= buf.length) {
        line = buf.subarray(this.#r, this.#w);
        this.#r = this.#w;
        this.#full = true;
        break;
      }
      searched = this.#w - this.#r;
      await this.#fill();
    }
    if (line.length > 0) this.#lastByte = line[line.length - 1]!;
    return line;
  }

  async #readLine(): Promise<ReadLineResult | null> {
    const line = await this.#slice(LF);
    if (line === null) return null;
    let end = line.length;
    if (this.#full) {
      // A "\r\n" may straddle the buffer: keep the "\r" for the next call.
      if (line[end - 1] === CR) {
        this.#r--;
        this.#lastByte = -1;
        end--;
      }
      return { line: line.subarray(0, end), more: true };
    }
    if (end > 0 && line[end - 1] === LF) {
      end--;
      if (end > 0 && line[end - 1] === CR) end--;
    }
    return { line: line.subarray(0, end), more: false };
  }

  async #readString(delim: number, maxLength: number): Promise<string | null> {
    _checkByte(delim, "Delimiter");
    _checkCount(maxLength, "Maximum length");
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const part = await this.#slice(delim);
      if (part === null) break;
      total += part.length;
      parts.push(this.#full || total > maxLength ? part.slice() : part);
      if (total > maxLength) {
        throw new BufferFullError(
          _concat(parts, total),
          `Delimiter not found within the maximum length of ${maxLength} bytes`,
        );
      }
      if (!this.#full) break;
    }
    if (parts.length === 0) return null;
    return decoder.decode(parts.length === 1 ? parts[0] : _concat(parts, total));
  }

  async #readFull(p: Uint8Array): Promise<Uint8Array | null> {
    if (p.length === 0) return p;
    if (p.length <= this.#buf.length) {
      // All or nothing: buffer the whole of p first, so an error consumes nothing.
      this.#lastByte = -1;
      while (this.#w - this.#r < p.length && !this.#ended()) await this.#fill();
      const avail = this.#w - this.#r;
      if (avail < p.length) {
        if (this.#failed || avail === 0) return this.#end();
        this.#take(p, this.#r, avail);
        throw new UnexpectedEofError(p.subarray(0, avail), p.length);
      }
      this.#take(p, this.#r, p.length);
      return p;
    }
    let n = 0;
    while (n < p.length) {
      const m = await this.#read(p.subarray(n));
      if (m === null) {
        if (n === 0) return null;
        throw new UnexpectedEofError(p.subarray(0, n), p.length);
      }
      n += m;
    }
    return p;
  }

  async #discard(n: number): Promise<number> {
    _checkCount(n, "Discard count");
    this.#lastByte = -1;
    let remain = n;
    while (remain > 0) {
      if (this.#r === this.#w) {
        if (this.#failed) this.#end();
        if (this.#eof) break;
        await this.#fill();
        continue;
      }
      const skip = Math.min(this.#w - this.#r, remain);
      this.#r += skip;
      remain -= skip;
    }
    return n - remain;
  }
}
