/**
 * Length-prefixed frames: each message is a big-endian u32 length followed by
 * that many bytes. {@linkcode FrameWriter} puts each frame on the wire with
 * one write, {@linkcode FrameReader} gives whole frames back, and both refuse
 * frames over a limit with {@linkcode MessageTooLargeError}.
 *
 * @module
 */

import { checkBytes, checked } from "../_check.ts";
import { messageOptions, MessageReader, MessageWriter } from "./_message.ts";
import { RESOLVED } from "./_util.ts";
import type { BufReader } from "./buf_reader.ts";
import { MessageTooLargeError, UnexpectedEofError } from "./errors.ts";
import type { Reader, Writer } from "./io.ts";

/** Bytes in a frame header. */
const HEADER = 4;
/** The frame size limit: its name, the largest length a u32 header can carry, the default. */
const LIMIT = { name: "maxFrameSize", max: 0xffff_ffff, fallback: 16 * 1024 * 1024 };

// The frame header, the payload's length as a big-endian u32 in buf[at, at + 4).
function getHeader(buf: Uint8Array, at = 0): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

function putHeader(buf: Uint8Array, size: number): void {
  buf[0] = size >>> 24;
  buf[1] = size >>> 16;
  buf[2] = size >>> 8;
  buf[3] = size;
}

function tooLarge(size: number, limit: number): MessageTooLargeError {
  return new MessageTooLargeError(
    `Frame of ${size} bytes exceeds the maximum frame size of ${limit} bytes`,
    { size, limit },
  );
}

/**
 * FrameReaderOptions are the options of {@linkcode FrameReader}.
 *
 * @example A small limit for untrusted peers
 * ```ts
 * import { FrameReader, type FrameReaderOptions, MessageTooLargeError } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const options: FrameReaderOptions = { maxFrameSize: 1024, bufferSize: 8192 };
 * const wire = new Uint8Array([0, 0, 8, 0]); // claims 2048 bytes
 * const frames = new FrameReader(ReadableStream.from([wire]), options);
 * await assert.rejects(frames.readFrame(), MessageTooLargeError);
 * ```
 */
export interface FrameReaderOptions {
  /**
   * The largest payload accepted, in bytes, at most `2 ** 32 - 1`. A header
   * claiming more fails with {@linkcode MessageTooLargeError} before anything
   * is allocated; one claiming less gets memory as its payload arrives, so
   * even a limit of 4 GiB costs only what the peer sends.
   *
   * @default {16777216}
   */
  maxFrameSize?: number;
  /**
   * The buffer size of the BufReader the FrameReader makes (not used when the
   * source is a BufReader). Frames up to this size are returned without a copy.
   *
   * @default {4096}
   */
  bufferSize?: number;
}

/**
 * FrameReader reads length-prefixed frames: a big-endian u32 payload length,
 * then the payload.
 *
 * - {@linkcode readFrame} resolves with one whole payload, or `null` when the
 *   stream ends cleanly between frames. A stream that ends inside a frame
 *   fails with {@linkcode UnexpectedEofError}.
 * - A payload that fits in the buffer is returned as a view of it, valid
 *   until the next read (no copy, no allocation); a larger one is a new array
 *   (over a resizable ArrayBuffer of exactly its length), read with
 *   {@linkcode BufReader.readExact}. Copy a view with `slice()` to keep it —
 *   also when iterating.
 * - Memory is bounded by `maxFrameSize`: a larger header fails at once with
 *   {@linkcode MessageTooLargeError}. A payload larger than the buffer is
 *   given memory as it arrives, not what its header claims.
 * - A source error (a passed read deadline, say) while a frame that fits in
 *   the buffer is still arriving consumes nothing: the reader stays usable
 *   and a later call returns the whole frame. Every other failure — a frame
 *   over the limit, the stream ending inside a frame, a source error inside
 *   a frame larger than the buffer — loses the reader's place in the stream
 *   and is sticky: every later call fails with the same error.
 * - Concurrent calls are served one after the other, in call order.
 *
 * @example Read frames in a loop
 * ```ts
 * import { FrameReader } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const wire = new Uint8Array([0, 0, 0, 2, 104, 105, 0, 0, 0, 0]);
 * const frames = new FrameReader(ReadableStream.from([wire]));
 * const got: string[] = [];
 * for await (const frame of frames) got.push(new TextDecoder().decode(frame));
 * assert.deepEqual(got, ["hi", ""]);
 * ```
 */
export class FrameReader implements AsyncIterable<Uint8Array> {
  #max: number;
  #in: MessageReader<Uint8Array>;

  /**
   * Creates a FrameReader.
   *
   * @param rd The source: a {@linkcode Reader}, a
   *   `ReadableStream<Uint8Array>`, or a {@linkcode BufReader} to read
   *   through directly.
   * @param options The frame limit and buffer size.
   * @throws {TypeError} When `rd` is not a source, or an option has the
   *   wrong type.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(rd: Reader | ReadableStream<Uint8Array> | BufReader, options?: FrameReaderOptions) {
    const { limit, bufferSize } = messageOptions(options, "FrameReader", LIMIT);
    this.#max = limit;
    this.#in = new MessageReader(
      rd,
      bufferSize,
      "FrameReader",
      () => this.#buffered(),
      () => this.#readFrame(),
    );
  }

  /** The largest payload accepted, in bytes. */
  get maxFrameSize(): number {
    return this.#max;
  }

  /**
   * Reads the next frame.
   *
   * @returns The payload — a view valid until the next read when it fits in
   *   the buffer, else a new array — or `null` at a clean end of stream.
   * @throws {MessageTooLargeError} When the header claims more than
   *   `maxFrameSize` bytes.
   * @throws {UnexpectedEofError} When the stream ends inside a frame.
   * @throws Whatever the source threw; sticky only inside a frame larger
   *   than the buffer.
   *
   * @example Read one frame
   * ```ts
   * import { FrameReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const frames = new FrameReader(ReadableStream.from([new Uint8Array([0, 0, 0, 1, 42])]));
   * assert.deepEqual(await frames.readFrame(), new Uint8Array([42]));
   * assert.equal(await frames.readFrame(), null);
   * ```
   */
  readFrame(): Promise<Uint8Array | null> {
    return this.#in.read();
  }

  /**
   * Iterates over the frames until a clean end of stream. Each frame is valid
   * until the next one is read, as with {@linkcode readFrame}. This is the
   * fastest way to read frames: a frame already in the buffer costs one
   * settled promise and no allocation beyond its view.
   *
   * @returns An iterator of payloads.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.#in.iterate();
  }

  // The fast path: the next frame when it is already whole in the buffer and
  // without awaiting; else undefined. Runs only when nothing is pending or failed.
  #buffered(): Uint8Array | undefined {
    const buffered = this.#in.buffered;
    const view = buffered.view();
    if (view === null) return undefined;
    const at = buffered.at;
    const size = view.length - at < HEADER ? -1 : getHeader(view, at);
    const end = at + HEADER + size;
    if (size < 0 || size > this.#max || end > view.length) {
      buffered.drop();
      return undefined;
    }
    buffered.consume(HEADER + size);
    return view.subarray(at + HEADER, end);
  }

  async #readFrame(): Promise<Uint8Array | null> {
    const br = this.#in.br;
    // Until a byte is consumed, a source error leaves the frame buffered and
    // the reader usable: peek, then consume the whole frame at once.
    const header = await br.peek(HEADER);
    if (header.length === 0) return null;
    if (header.length < HEADER) {
      throw this.#in.sticky.record(new UnexpectedEofError(header.slice(), HEADER));
    }
    const size = getHeader(header);
    if (size > this.#max) throw this.#in.sticky.record(tooLarge(size, this.#max));
    if (HEADER + size <= br.size) {
      const frame = await br.peek(HEADER + size);
      if (frame.length < HEADER + size) {
        throw this.#in.sticky.record(new UnexpectedEofError(frame.slice(HEADER), size));
      }
      await br.discard(HEADER + size);
      return frame.subarray(HEADER);
    }
    // Larger than the buffer: read as it comes, into memory that grows with
    // it; a failure now loses the place.
    try {
      await br.discard(HEADER);
      const payload = await br.readExact(size);
      if (payload === null) throw new UnexpectedEofError(new Uint8Array(0), size);
      return payload;
    } catch (err) {
      throw this.#in.sticky.record(err);
    }
  }
}

/**
 * FrameWriterOptions are the options of {@linkcode FrameWriter}.
 *
 * @example Refuse to send frames over 4 bytes
 * ```ts
 * import { FrameWriter, type FrameWriterOptions, MessageTooLargeError } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const options: FrameWriterOptions = { maxFrameSize: 4 };
 * const frames = new FrameWriter({ write: (p) => Promise.resolve(p.length) }, options);
 * await assert.rejects(frames.writeFrame(new Uint8Array(5)), MessageTooLargeError);
 * ```
 */
export interface FrameWriterOptions {
  /**
   * The largest payload the writer sends, in bytes, at most `2 ** 32 - 1`.
   *
   * @default {16777216}
   */
  maxFrameSize?: number;
}

/**
 * FrameWriter writes length-prefixed frames: a big-endian u32 payload length,
 * then the payload, as ONE `write` call per frame. Over netconn's `Conn`,
 * whose writes are contiguous, frames from any number of concurrent senders
 * therefore arrive whole. Calls on one FrameWriter also run one at a time, in
 * call order, so frames stay whole even over a writer that accepts part of a
 * buffer (a raw `Deno.Conn`) as long as they all go through it.
 *
 * The frame is built in a reused buffer (up to 64 KiB), and the payload is not
 * read after the promise settles. A failed write is sticky: every later call
 * fails with the same error, since the stream may now end inside a frame.
 *
 * @example Frames round-trip through a stream
 * ```ts
 * import { FrameReader, FrameWriter } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const pipe = new TransformStream<Uint8Array, Uint8Array>();
 * const writer = new FrameWriter(pipe.writable);
 * const reader = new FrameReader(pipe.readable);
 * const sent = writer.writeFrame(new TextEncoder().encode("hello"));
 * const frame = await reader.readFrame();
 * await sent;
 * assert.equal(new TextDecoder().decode(frame!), "hello");
 * ```
 */
export class FrameWriter {
  #out: MessageWriter;
  #max: number;
  #header = new Uint8Array(HEADER); // for the synchronous path into a BufWriter

  /**
   * Creates a FrameWriter.
   *
   * @param wr The destination: a {@linkcode Writer} (netconn's `Conn`, a
   *   BufWriter, a raw `Deno.Conn`) or a `WritableStream<Uint8Array>`, which
   *   stays locked.
   * @param options The frame limit.
   * @throws {TypeError} When `wr` is not a destination, or an option has the
   *   wrong type.
   * @throws {RangeError} When `maxFrameSize` is out of range.
   */
  constructor(wr: Writer | WritableStream<Uint8Array>, options?: FrameWriterOptions) {
    this.#max = messageOptions(options, "FrameWriter", LIMIT).limit;
    this.#out = new MessageWriter(wr, "FrameWriter");
  }

  /** The largest payload the writer sends, in bytes. */
  get maxFrameSize(): number {
    return this.#max;
  }

  /**
   * Writes `payload` as one frame, with one `write` call.
   *
   * @param payload The frame's payload.
   * @throws {TypeError} When `payload` is not a Uint8Array; nothing is
   *   written and the writer stays usable.
   * @throws {MessageTooLargeError} When `payload` is over `maxFrameSize`;
   *   nothing is written and the writer stays usable.
   * @throws The destination's error, now or from an earlier failure.
   *
   * @example Write one frame
   * ```ts
   * import { FrameWriter } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const writes: Uint8Array[] = [];
   * const frames = new FrameWriter({ write: (p) => Promise.resolve(writes.push(p.slice()) && p.length) });
   * await frames.writeFrame(new Uint8Array([42]));
   * assert.deepEqual(writes, [new Uint8Array([0, 0, 0, 1, 42])]);
   * ```
   */
  writeFrame(payload: Uint8Array): Promise<void> {
    if (!(payload instanceof Uint8Array)) {
      return Promise.reject(checked(() => checkBytes(payload, "FrameWriter.writeFrame")));
    }
    const size = payload.length;
    if (size > this.#max) return Promise.reject(tooLarge(size, this.#max));
    putHeader(this.#header, size);
    if (this.#out.trySend(this.#header, payload)) return RESOLVED;
    return this.#out.send(HEADER + size, (buf) => {
      putHeader(buf, size);
      buf.set(payload, HEADER);
      return HEADER + size;
    });
  }
}
