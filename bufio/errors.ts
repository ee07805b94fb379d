/**
 * The errors of bufio's readers and writers that callers are expected to
 * catch: {@linkcode BufferFullError} and {@linkcode UnexpectedEofError} from
 * {@linkcode BufReader}, {@linkcode MessageTooLargeError} from the frame and
 * line readers and writers.
 *
 * @module
 */

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
 * const err = await br.readSlice("\n").catch((e) => e);
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
 * MessageTooLargeError says a frame or line is over its reader's or writer's
 * limit: a frame header claimed more than `maxFrameSize` bytes, or a line ran
 * past `maxLineLength` without ending. A reader stops at the limit, so hostile
 * input costs bounded memory; after this error the reader keeps failing with
 * it, since its place in the stream is lost. A writer refuses the message
 * before writing any of it.
 *
 * @example A header that claims 4 GiB
 * ```ts
 * import { FrameReader, MessageTooLargeError } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const frames = new FrameReader(ReadableStream.from([new Uint8Array([255, 255, 255, 255])]));
 * const err = await frames.readFrame().catch((e) => e);
 * assert.ok(err instanceof MessageTooLargeError);
 * assert.equal(err.size, 2 ** 32 - 1);
 * assert.equal(err.limit, 16 * 1024 * 1024);
 * ```
 */
export class MessageTooLargeError extends Error {
  /** The size claimed, or for a line the bytes seen so far. */
  readonly size: number;
  /** The limit it exceeds. */
  readonly limit: number;

  /**
   * Builds the error.
   *
   * @param message What was too large.
   * @param options The size and the limit.
   */
  constructor(message: string, options: { size: number; limit: number }) {
    super(message);
    this.name = "MessageTooLargeError";
    this.size = options.size;
    this.limit = options.limit;
  }
}
