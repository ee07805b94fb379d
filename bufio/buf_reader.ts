/**
 * {@linkcode BufReader}: Go's `bufio.Reader` for Deno, over any
 * {@linkcode Reader} or a `ReadableStream<Uint8Array>`.
 *
 * @module
 */

import { checkBytes, checked, checkInteger, checkOptions } from "../_check.ts";
import { Fifo, inTurn, resolvedCount } from "../_io/wait.ts";
import { Growable } from "./_grow.ts";
import { type StreamAdapter, toReader } from "./_stream.ts";
import {
  bufferSize,
  checkResult,
  CR,
  delimiterByte,
  delimiterError,
  LF,
  lineEnd,
  MAX_BUFFER_SIZE,
  MAX_EMPTY_OPS,
} from "./_util.ts";
import { BufferFullError, UnexpectedEofError } from "./errors.ts";
import { NoProgressError, type Reader } from "./io.ts";

/** Default limit of {@linkcode BufReader.readString} (16 MiB). */
const DEFAULT_MAX_STRING = 16 * 1024 * 1024;
const decoder = new TextDecoder();

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
 * await assert.rejects(br.readString("\n", options), BufferFullError);
 * ```
 */
export interface ReadStringOptions {
  /**
   * The longest string, in bytes with its delimiter, to collect: an integer
   * from 0 to 1 GiB. A longer one fails with {@linkcode BufferFullError}
   * once this many bytes and at most one buffer more have come, so an
   * endless line costs bounded memory: about the limit, allocated as the
   * bytes arrive.
   *
   * @default {16777216}
   */
  maxLength?: number;
}

// One piece of a delimited read: the bytes up to and including the
// delimiter, or all the buffer held when it filled without one (`full`).
interface Slice {
  bytes: Uint8Array;
  full: boolean;
}

// A count the fast paths take: a non-negative safe integer.
function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/**
 * BufReader adds a buffer to a {@linkcode Reader} or a
 * `ReadableStream<Uint8Array>` (read through a BYOB reader when it is a byte
 * stream), as Go's `bufio.Reader`: few large reads from the source, many small
 * ones from memory, and line, delimiter and fixed-size reads on top.
 *
 * - End of stream is `null`, as in Deno. Bytes buffered before the end or an
 *   error of the source are always handed out first; the error comes after.
 * - Views returned by {@linkcode peek}, {@linkcode tryPeek},
 *   {@linkcode readSlice} and {@linkcode readLine} point into the buffer and
 *   stop being valid when the next read starts. Copy them (`slice()`) to keep them. A call queued
 *   behind another starts as soon as that one ends, so concurrent callers
 *   should use the methods that return owned results
 *   ({@linkcode readString}, {@linkcode readExact}, {@linkcode readFull}).
 * - 100 reads in a row that return no bytes end in
 *   {@linkcode NoProgressError}.
 * - Operations called while another is waiting for the source run after it,
 *   in call order; the synchronous fast paths only run when none is pending.
 *   {@linkcode tryPeek} and {@linkcode tryDiscard} are those fast paths on
 *   their own, for parsers built on top: they never wait.
 * - Arguments are checked before anything starts: a bad one is a TypeError
 *   or RangeError (a rejected promise from the methods that return one), and
 *   nothing is read or consumed.
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
  #adapter: StreamAdapter | undefined;
  #r = 0; // next byte to hand out
  #w = 0; // end of the buffered bytes; 0 <= #r <= #w <= #buf.length
  #lastByte = -1; // last byte handed out, for unreadByte; -1 when there is none
  #eof = false; // the source reported end of stream, not yet reported to the caller
  #failed = false; // the source threw #err, not yet reported to the caller
  #err: unknown = undefined;
  #lock = new Fifo(); // held by the slow path that is waiting for the source

  /**
   * Creates a BufReader.
   *
   * @param rd The source: a {@linkcode Reader}, or a
   *   `ReadableStream<Uint8Array>`, which stays locked until
   *   {@linkcode reset}.
   * @param size The buffer size in bytes: an integer; 0 to 15 round up to 16,
   *   as Go's `bufio.NewReaderSize`.
   * @throws {TypeError} When `size` is not a number, or `rd` is neither a
   *   Reader nor a ReadableStream, or the stream is locked.
   * @throws {RangeError} When `size` is negative, not an integer, or over
   *   1 GiB.
   */
  constructor(rd: Reader | ReadableStream<Uint8Array>, size: number = 4096) {
    this.#buf = new Uint8Array(bufferSize(size, "BufReader"));
    const { reader, adapter } = toReader(rd, "BufReader");
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
    const { reader, adapter } = toReader(rd, "BufReader.reset");
    this.#adapter?.release();
    this.#rd = reader;
    this.#adapter = adapter;
    this.#r = this.#w = 0;
    this.#lastByte = -1;
    this.#eof = this.#failed = false;
    this.#err = undefined;
  }

  /**
   * Returns the next `n` bytes if they are buffered now, without consuming
   * them and without waiting: the synchronous fast path of {@linkcode peek},
   * the reading twin of `BufWriter.tryWrite`. Returns `null`, having done
   * nothing, when fewer than `n` bytes are buffered or a read is pending;
   * then call {@linkcode peek}. The view is valid until the next read.
   * `tryPeek(br.buffered())` shows every buffered byte, for a parser that
   * looks for its own delimiter or header.
   *
   * @param n How many bytes to look at: a non-negative integer.
   * @returns A view of the next `n` bytes, or `null`.
   * @throws {TypeError} When `n` is not a number.
   * @throws {RangeError} When `n` is negative or not an integer.
   *
   * @example Parse a length-prefixed record without awaiting when it is buffered
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new Uint8Array([2, 7, 8, 3])]));
   * assert.equal(br.tryPeek(1), null); // nothing buffered yet
   * await br.peek(1); // fills the buffer
   * const head = br.tryPeek(1)!;
   * const record = br.tryPeek(1 + head[0]!)!;
   * assert.deepEqual(record.subarray(1), new Uint8Array([7, 8]));
   * assert.equal(br.tryDiscard(record.length), true);
   * assert.equal(await br.readByte(), 3);
   * ```
   */
  tryPeek(n: number): Uint8Array | null {
    if (!isCount(n)) checkInteger(n, "BufReader.tryPeek", 0);
    const r = this.#r;
    if (n > this.#w - r || this.#lock.locked) return null;
    this.#lastByte = -1;
    return this.#buf.subarray(r, r + n);
  }

  /**
   * Skips the next `n` bytes if they are buffered now, without waiting: the
   * synchronous fast path of {@linkcode discard}, to consume what
   * {@linkcode tryPeek} showed. Returns `false`, having skipped nothing, when
   * fewer than `n` bytes are buffered or a read is pending; then call
   * {@linkcode discard}.
   *
   * @param n How many bytes to skip: a non-negative integer.
   * @returns Whether the bytes were skipped.
   * @throws {TypeError} When `n` is not a number.
   * @throws {RangeError} When `n` is negative or not an integer.
   *
   * @example Skip buffered bytes
   * ```ts
   * import { BufReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const br = new BufReader(ReadableStream.from([new Uint8Array([1, 2, 3])]));
   * assert.equal(br.tryDiscard(1), false); // nothing buffered yet
   * assert.equal(await br.readByte(), 1);
   * assert.equal(br.tryDiscard(1), true);
   * assert.equal(br.tryDiscard(5), false);
   * assert.equal(await br.readByte(), 3);
   * ```
   */
  tryDiscard(n: number): boolean {
    if (!isCount(n)) checkInteger(n, "BufReader.tryDiscard", 0);
    if (n > this.#w - this.#r || this.#lock.locked) return false;
    this.#r += n;
    this.#lastByte = -1;
    return true;
  }

  /**
   * Reads up to `p.length` bytes into `p`, with at most one read from the
   * source: buffered bytes if there are any, otherwise one fill of the
   * buffer, or one read straight into `p` when `p` is at least as large as
   * the buffer. Resolves with more than 0 bytes unless `p` is empty.
   *
   * @param p The buffer to read into.
   * @returns The number of bytes read, or `null` at end of stream.
   * @throws {TypeError} When `p` is not a Uint8Array.
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
    if (p instanceof Uint8Array && this.#r < this.#w && !this.#lock.locked) {
      return resolvedCount(this.#take(p));
    }
    return this.#slow(checked(() => checkBytes(p, "BufReader.read")), () => this.#read(p));
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
    if (this.#r < this.#w && !this.#lock.locked) return Promise.resolve(this.#takeByte());
    return this.#slow(undefined, async () => {
      this.#lastByte = -1;
      await this.#fill(1);
      return this.#r === this.#w ? this.#end() : this.#takeByte();
    });
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
   * @throws {TypeError} When `n` is not a number.
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
    const view = isCount(n) ? this.tryPeek(n) : null;
    if (view !== null) return Promise.resolve(view);
    return this.#slow(checked(() => checkInteger(n, "BufReader.peek", 0)), () => this.#peek(n));
  }

  /**
   * Reads up to and including the first `delim`, as Go's `ReadSlice`. The
   * view points into the buffer and is valid until the next read. It ends in
   * `delim` unless the stream ended first, in which case it holds the bytes
   * that remained.
   *
   * @param delim The delimiter: a one-character ASCII string such as `"\n"`,
   *   or a byte from 0 to 255.
   * @returns The bytes up to and including `delim`, or `null` at end of
   *   stream.
   * @throws {BufferFullError} When the buffer fills without `delim`;
   *   `partial` holds the full buffer, consumed.
   * @throws {TypeError} When `delim` is neither a string nor a number.
   * @throws {RangeError} When `delim` is not one ASCII character or a byte.
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
   * assert.deepEqual(await br.readSlice(","), new TextEncoder().encode("a,"));
   * assert.deepEqual(await br.readSlice(","), new TextEncoder().encode("bc"));
   * assert.equal(await br.readSlice(","), null);
   * ```
   */
  readSlice(delim: string | number): Promise<Uint8Array | null> {
    const c = delimiterByte(delim);
    const i = c >= 0 ? this.#indexOf(c) : -1;
    if (i >= 0) return Promise.resolve(this.#cut(i + 1, false).bytes);
    const bad = c < 0 ? delimiterError(delim, "BufReader.readSlice") : undefined;
    return this.#slow(bad, async () => {
      const slice = await this.#slice(c);
      if (slice?.full) {
        throw new BufferFullError(
          slice.bytes,
          `Buffer full: no delimiter within ${this.size} bytes`,
        );
      }
      return slice === null ? null : slice.bytes;
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
    const r = this.#r;
    const i = this.#indexOf(LF);
    if (i >= 0) {
      this.#r = i + 1;
      this.#lastByte = LF;
      return Promise.resolve({
        line: this.#buf.subarray(r, lineEnd(this.#buf, r, i)),
        more: false,
      });
    }
    return this.#slow(undefined, () => this.#readLine());
  }

  /**
   * Reads up to and including the first `delim` and decodes the bytes as
   * UTF-8, as Go's `ReadString`. Unlike Go it has a limit, so a peer that
   * never sends `delim` cannot make it buffer without end. The string ends
   * in `delim` unless the stream ended first.
   *
   * @param delim The delimiter: a one-character ASCII string such as `"\n"`,
   *   or a byte from 0 to 255.
   * @param options The length limit.
   * @returns The string, or `null` at end of stream.
   * @throws {BufferFullError} When more than `maxLength` bytes come without
   *   `delim`; `partial` holds a copy of the bytes read, consumed.
   * @throws {TypeError} When `delim` is neither a string nor a number, or an
   *   option has the wrong type.
   * @throws {RangeError} When `delim` is not one ASCII character or a byte,
   *   or `maxLength` is out of range.
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
   * assert.equal(await br.readString("\n"), "héllo\n");
   * assert.equal(await br.readString("\n"), "rest");
   * assert.equal(await br.readString("\n"), null);
   * ```
   */
  readString(delim: string | number, options?: ReadStringOptions): Promise<string | null> {
    const c = delimiterByte(delim);
    let max = DEFAULT_MAX_STRING;
    const bad = c < 0 ? delimiterError(delim, "BufReader.readString") : checked(() => {
      const { maxLength = max } = checkOptions(options, "BufReader.readString", ["maxLength"]);
      checkInteger(maxLength, 'BufReader.readString option "maxLength"', 0, MAX_BUFFER_SIZE);
      max = maxLength;
    });
    return this.#slow(bad, () => this.#readString(c, max));
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
   * @throws {TypeError} When `p` is not a Uint8Array.
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
    if (p instanceof Uint8Array && p.length <= this.#w - this.#r && !this.#lock.locked) {
      this.#take(p);
      return Promise.resolve(p);
    }
    return this.#slow(checked(() => checkBytes(p, "BufReader.readFull")), () => this.#readFull(p));
  }

  /**
   * Reads exactly `n` bytes into a new array, which the caller owns; all or
   * nothing when `n` is no larger than the buffer, as {@linkcode readFull}.
   * A larger `n` is read as the bytes come, into memory that grows with
   * them (by 64 KiB or an eighth at a time, in a resizable ArrayBuffer of
   * at most `n` bytes), so a length a peer claims costs only what it sends.
   *
   * @param n How many bytes to read: a non-negative integer.
   * @returns The bytes, or `null` when the stream ended before any byte.
   * @throws {UnexpectedEofError} When the stream ended part-way.
   * @throws {TypeError} When `n` is not a number.
   * @throws {RangeError} When `n` is negative or not an integer, or more
   *   than the runtime can reserve.
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
    if (!isCount(n)) {
      return Promise.reject(checked(() => checkInteger(n, "BufReader.readExact", 0)));
    }
    if (n <= this.#buf.length) return this.readFull(new Uint8Array(n));
    return this.#slow(undefined, () => {
      const out = new Growable(n, "BufReader.readExact");
      return this.#readInto(n, (off) => out.room(off), (got) => out.bytes(got));
    });
  }

  /**
   * Skips the next `n` bytes, reading from the source as needed.
   *
   * @param n How many bytes to skip: a non-negative integer.
   * @returns The number of bytes skipped; fewer than `n` only when the
   *   stream ended first.
   * @throws {TypeError} When `n` is not a number.
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
    if (isCount(n) && this.tryDiscard(n)) return resolvedCount(n);
    return this.#slow(
      checked(() => checkInteger(n, "BufReader.discard", 0)),
      () => this.#discard(n),
    );
  }

  // Every method is a synchronous fast path over the buffered bytes, taken
  // when no slow path is pending, else this: the slow path `op`, run after
  // every one called before it. Bad arguments reject at once, starting nothing.
  #slow<T>(bad: Error | undefined, op: () => Promise<T>): Promise<T> {
    return bad === undefined ? inTurn(this.#lock, op) : Promise.reject(bad);
  }

  // Where `c` is among the buffered bytes, or -1; -1 while a slow path is pending.
  #indexOf(c: number): number {
    if (this.#lock.locked) return -1;
    const i = this.#buf.indexOf(c, this.#r);
    return i < this.#w ? i : -1;
  }

  // Copies buffered bytes into p and consumes them; returns the count.
  #take(p: Uint8Array): number {
    const buf = this.#buf;
    const r = this.#r;
    const n = Math.min(p.length, this.#w - r);
    if (n === 0) return 0;
    if (n <= 16) {
      for (let i = 0; i < n; i++) p[i] = buf[r + i]!;
    } else {
      p.set(buf.subarray(r, r + n));
    }
    this.#r = r + n;
    this.#lastByte = buf[r + n - 1]!;
    return n;
  }

  // Consumes one buffered byte; there must be one.
  #takeByte(): number {
    const c = this.#buf[this.#r++]!;
    this.#lastByte = c;
    return c;
  }

  // Consumes the buffered bytes up to `end` as one slice.
  #cut(end: number, full: boolean): Slice {
    const bytes = this.#buf.subarray(this.#r, end);
    this.#r = end;
    this.#lastByte = bytes.length > 0 ? bytes[bytes.length - 1]! : -1;
    return { bytes, full };
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

  // The one helper of every slow path: reads from the source until `want`
  // bytes are buffered (want <= size) or the source ends or fails. An end of
  // stream or error is recorded for #end, not thrown.
  async #fill(want: number): Promise<void> {
    while (this.#w - this.#r < want && !this.#ended()) await this.#readOnce();
  }

  // Slides the buffered bytes to the front and reads once more into the rest
  // of the buffer, allowing MAX_EMPTY_OPS empty reads. The buffer must not be
  // full.
  async #readOnce(): Promise<void> {
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
        n = checkResult(got, room.length, "Reader");
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
      // A large read into an empty buffer goes straight into p: no copy.
      if (p.length >= this.#buf.length) return await this.#readDirect(p);
      await this.#fill(1);
      if (this.#r === this.#w) return this.#end();
    }
    return this.#take(p);
  }

  // Reads from the source straight into p; resolves with n > 0 or null.
  async #readDirect(p: Uint8Array): Promise<number | null> {
    for (let i = 0; i < MAX_EMPTY_OPS; i++) {
      const got = await this.#rd.read(p);
      if (got === null) return null;
      const n = checkResult(got, p.length, "Reader");
      if (n > 0) {
        this.#lastByte = p[n - 1]!;
        return n;
      }
    }
    throw new NoProgressError(`Reader returned no bytes in ${MAX_EMPTY_OPS} reads in a row`);
  }

  async #peek(n: number): Promise<Uint8Array> {
    this.#lastByte = -1;
    const size = this.#buf.length;
    await this.#fill(Math.min(n, size));
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

  // Go's ReadSlice, with a full buffer reported in the result. The bytes
  // left at end of stream come back as a last slice, leaving the end pending
  // for the next call; an error leaves them buffered.
  async #slice(delim: number): Promise<Slice | null> {
    this.#lastByte = -1;
    const buf = this.#buf;
    for (let searched = 0;;) {
      const i = buf.subarray(this.#r + searched, this.#w).indexOf(delim);
      if (i >= 0) return this.#cut(this.#r + searched + i + 1, false);
      if (this.#ended()) {
        // An error leaves the partial line buffered for a later call; the
        // end of the stream hands it out.
        if (this.#failed || this.#r === this.#w) return this.#end();
        return this.#cut(this.#w, false);
      }
      searched = this.#w - this.#r;
      if (searched >= buf.length) return this.#cut(this.#w, true);
      await this.#fill(searched + 1);
    }
  }

  async #readLine(): Promise<ReadLineResult | null> {
    const slice = await this.#slice(LF);
    if (slice === null) return null;
    const { bytes, full } = slice;
    const n = bytes.length;
    if (full && bytes[n - 1] === CR) {
      // A "\r\n" may straddle the buffer: keep the "\r" for the next call.
      this.#r--;
      this.#lastByte = -1;
      return { line: bytes.subarray(0, n - 1), more: true };
    }
    if (full) return { line: bytes, more: true };
    return {
      line: bytes.subarray(0, bytes[n - 1] === LF ? lineEnd(bytes, 0, n - 1) : n),
      more: false,
    };
  }

  async #readString(delim: number, max: number): Promise<string | null> {
    const first = await this.#slice(delim);
    if (first === null) return null;
    if (!first.full && first.bytes.length <= max) return decoder.decode(first.bytes);
    // Longer than the buffer: collect copies of the pieces, in memory that
    // grows as they come, up to the limit and one buffer more.
    const out = new Growable(max + this.#buf.length, "BufReader.readString");
    for (let slice: Slice | null = first; slice !== null;) {
      out.push(slice.bytes);
      if (out.length > max) {
        throw new BufferFullError(
          out.bytes(),
          `Delimiter not found within the maximum length of ${max} bytes`,
        );
      }
      slice = slice.full ? await this.#slice(delim) : null;
    }
    return decoder.decode(out.bytes());
  }

  async #readFull(p: Uint8Array): Promise<Uint8Array | null> {
    if (p.length === 0) return p;
    if (p.length > this.#buf.length) {
      return await this.#readInto(
        p.length,
        (off) => p.subarray(off),
        (n) => n === p.length ? p : p.subarray(0, n),
      );
    }
    // All or nothing: buffer the whole of p first, so an error consumes nothing.
    this.#lastByte = -1;
    await this.#fill(p.length);
    const avail = this.#w - this.#r;
    if (avail < p.length) {
      if (this.#failed || avail === 0) return this.#end();
      this.#take(p);
      throw new UnexpectedEofError(p.subarray(0, avail), p.length);
    }
    this.#take(p);
    return p;
  }

  // Reads `want` bytes, more than the buffer holds, as they come: each read
  // goes into `room(bytes so far)`; `bytes(n)` gives the first n read.
  async #readInto(
    want: number,
    room: (off: number) => Uint8Array,
    bytes: (n: number) => Uint8Array,
  ): Promise<Uint8Array | null> {
    let n = 0;
    while (n < want) {
      const got = await this.#read(room(n));
      if (got === null) break;
      n += got;
    }
    if (n === want) return bytes(n);
    if (n === 0) return null;
    throw new UnexpectedEofError(bytes(n), want);
  }

  async #discard(n: number): Promise<number> {
    this.#lastByte = -1;
    let remain = n;
    while (remain > 0) {
      await this.#fill(1);
      if (this.#r === this.#w) {
        if (this.#failed) this.#end();
        break; // end of stream, left pending
      }
      const skip = Math.min(this.#w - this.#r, remain);
      this.#r += skip;
      remain -= skip;
    }
    return n - remain;
  }
}
