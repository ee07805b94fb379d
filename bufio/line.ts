/**
 * Newline-delimited text messages with a length limit:
 * {@linkcode LineWriter} puts each line on the wire with one write,
 * {@linkcode LineReader} gives whole lines back as strings.
 *
 * @module
 */

import { describe } from "../_check.ts";
import { messageOptions, MessageReader, MessageWriter } from "./_message.ts";
import { CR, LF, lineEnd, MAX_BUFFER_SIZE } from "./_util.ts";
import type { BufReader, ReadLineResult } from "./buf_reader.ts";
import { MessageTooLargeError } from "./errors.ts";
import type { Reader, Writer } from "./io.ts";

/**
 * The line length limit: its name, its largest value (1 GiB) and its default
 * (64 KiB), as Go's `bufio.MaxScanTokenSize`.
 */
const LIMIT = { name: "maxLineLength", max: MAX_BUFFER_SIZE, fallback: 64 * 1024 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * LineReaderOptions are the options of {@linkcode LineReader}.
 *
 * @example Lines of at most 5 bytes
 * ```ts
 * import { LineReader, type LineReaderOptions, MessageTooLargeError } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const options: LineReaderOptions = { maxLineLength: 5 };
 * const lines = new LineReader(ReadableStream.from([new TextEncoder().encode("short\ntoo long\n")]), options);
 * assert.equal(await lines.readLine(), "short");
 * await assert.rejects(lines.readLine(), MessageTooLargeError);
 * ```
 */
export interface LineReaderOptions {
  /**
   * The longest line accepted, in bytes without its `"\n"` or `"\r\n"`, at
   * most 1 GiB. A longer one fails with {@linkcode MessageTooLargeError} once
   * this many bytes (plus at most one buffer) have been read, however long
   * it goes on. A line longer than the buffer is decoded piece by piece as
   * it comes, so it costs its string and no copy of its bytes.
   *
   * @default {65536}
   */
  maxLineLength?: number;
  /**
   * The buffer size of the BufReader the LineReader makes (not used when the
   * source is a BufReader).
   *
   * @default {4096}
   */
  bufferSize?: number;
}

/**
 * LineReader reads lines of UTF-8 text ending in `"\n"` or `"\r\n"`, as Go's
 * `bufio.Scanner` with `ScanLines`.
 *
 * - {@linkcode readLine} resolves with the line without its ending, or `null`
 *   at end of stream. A last line without `"\n"` is returned as it is.
 * - Invalid UTF-8 becomes U+FFFD.
 * - Memory is bounded by `maxLineLength`: a line that runs past it fails with
 *   {@linkcode MessageTooLargeError}, however long it goes on.
 * - A source error (a passed read deadline, say) while a line that fits in
 *   the buffer is still arriving consumes nothing: the reader stays usable
 *   and a later call returns the whole line. Every other failure — a line
 *   over the limit, a source error inside a line longer than the buffer —
 *   is sticky: every later call fails with the same error.
 * - Concurrent calls are served one after the other, in call order.
 *
 * @example Iterate over lines
 * ```ts
 * import { LineReader } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const text = new TextEncoder().encode("one\r\ntwo\n\nthree");
 * const lines = await Array.fromAsync(new LineReader(ReadableStream.from([text])));
 * assert.deepEqual(lines, ["one", "two", "", "three"]);
 * ```
 */
export class LineReader implements AsyncIterable<string> {
  #max: number;
  #in: MessageReader<string>;

  /**
   * Creates a LineReader.
   *
   * @param rd The source: a {@linkcode Reader}, a
   *   `ReadableStream<Uint8Array>`, or a {@linkcode BufReader} to read
   *   through directly.
   * @param options The line limit and buffer size.
   * @throws {TypeError} When `rd` is not a source, or an option has the
   *   wrong type.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(rd: Reader | ReadableStream<Uint8Array> | BufReader, options?: LineReaderOptions) {
    const { limit, bufferSize } = messageOptions(options, "LineReader", LIMIT);
    this.#max = limit;
    this.#in = new MessageReader(
      rd,
      bufferSize,
      "LineReader",
      () => this.#buffered(),
      () => this.#readLine(),
    );
  }

  /** The longest line accepted, in bytes. */
  get maxLineLength(): number {
    return this.#max;
  }

  /**
   * Reads the next line.
   *
   * @returns The line without `"\n"` or `"\r\n"`, or `null` at end of stream.
   * @throws {MessageTooLargeError} When the line is longer than
   *   `maxLineLength` bytes.
   * @throws Whatever the source threw; sticky only inside a line longer than
   *   the buffer.
   *
   * @example Read one line
   * ```ts
   * import { LineReader } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const lines = new LineReader(ReadableStream.from([new TextEncoder().encode("hi\n")]));
   * assert.equal(await lines.readLine(), "hi");
   * assert.equal(await lines.readLine(), null);
   * ```
   */
  readLine(): Promise<string | null> {
    return this.#in.read();
  }

  /**
   * Iterates over the lines until end of stream.
   *
   * @returns An iterator of lines.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<string> {
    return this.#in.iterate();
  }

  // The fast path: the next line when it is already whole in the buffer and
  // without awaiting; else undefined. Runs only when nothing is pending or failed.
  #buffered(): string | undefined {
    const buffered = this.#in.buffered;
    const view = buffered.view();
    const at = buffered.at;
    const i = view === null ? -1 : view.indexOf(LF, at);
    const end = i < 0 ? -1 : lineEnd(view!, at, i);
    if (i < 0 || end - at > this.#max) { // a long line: the slow path reports it
      buffered.drop();
      return undefined;
    }
    buffered.consume(i + 1 - at);
    return decoder.decode(view!.subarray(at, end));
  }

  async #readLine(): Promise<string | null> {
    // A source error here consumed nothing (the BufReader keeps an unfinished
    // line buffered), so the reader stays usable.
    const first = await this.#in.br.readLine();
    if (first === null) return null;
    try {
      if (!first.more) {
        this.#checkLength(first.line.length);
        return decoder.decode(first.line);
      }
      // A line longer than the buffer: decode its pieces as they come.
      const pieces = new TextDecoder();
      let line = "";
      let length = 0;
      for (let piece: ReadLineResult | null = first; piece !== null;) {
        length += piece.line.length;
        this.#checkLength(length);
        line += pieces.decode(piece.line, { stream: true });
        piece = piece.more ? await this.#in.br.readLine() : null;
      }
      return line + pieces.decode();
    } catch (err) {
      throw this.#in.sticky.record(err);
    }
  }

  #checkLength(length: number): void {
    if (length > this.#max) {
      throw new MessageTooLargeError(
        `Line exceeds the maximum line length of ${this.#max} bytes`,
        { size: length, limit: this.#max },
      );
    }
  }
}

// The rejection of a line LineWriter.writeLine does not take.
function refuse(what: string, line: unknown): Promise<never> {
  return Promise.reject(
    new TypeError(`LineWriter.writeLine takes ${what}: received ${describe(line)}`),
  );
}

// The UTF-8 length of s, with lone surrogates as U+FFFD (3 bytes).
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * LineWriterOptions are the options of {@linkcode LineWriter}.
 *
 * @example Refuse to send lines over 3 bytes
 * ```ts
 * import { LineWriter, type LineWriterOptions, MessageTooLargeError } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const options: LineWriterOptions = { maxLineLength: 3 };
 * const lines = new LineWriter({ write: (p) => Promise.resolve(p.length) }, options);
 * await assert.rejects(lines.writeLine("four"), MessageTooLargeError);
 * ```
 */
export interface LineWriterOptions {
  /**
   * The longest line the writer sends, in bytes without its `"\n"`.
   *
   * @default {65536}
   */
  maxLineLength?: number;
}

/**
 * LineWriter writes lines: the line's UTF-8 bytes and `"\n"`, as ONE `write`
 * call per line. Over netconn's `Conn`, whose writes are contiguous, lines
 * from any number of concurrent senders therefore arrive whole. Calls on one
 * LineWriter also run one at a time, in call order.
 *
 * A line must not contain `"\n"` nor end in `"\r"` (it would not read back as
 * the same line). A failed write is sticky: every later call fails with the
 * same error.
 *
 * @example Lines round-trip through a stream
 * ```ts
 * import { LineReader, LineWriter } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const pipe = new TransformStream<Uint8Array, Uint8Array>();
 * const writer = new LineWriter(pipe.writable);
 * const reader = new LineReader(pipe.readable);
 * const sent = writer.writeLine("héllo");
 * assert.equal(await reader.readLine(), "héllo");
 * await sent;
 * ```
 */
export class LineWriter {
  #out: MessageWriter;
  #max: number;

  /**
   * Creates a LineWriter.
   *
   * @param wr The destination: a {@linkcode Writer} (netconn's `Conn`, a
   *   BufWriter, a raw `Deno.Conn`) or a `WritableStream<Uint8Array>`, which
   *   stays locked.
   * @param options The line limit.
   * @throws {TypeError} When `wr` is not a destination, or an option has the
   *   wrong type.
   * @throws {RangeError} When `maxLineLength` is out of range.
   */
  constructor(wr: Writer | WritableStream<Uint8Array>, options?: LineWriterOptions) {
    this.#max = messageOptions(options, "LineWriter", LIMIT).limit;
    this.#out = new MessageWriter(wr, "LineWriter");
  }

  /** The longest line the writer sends, in bytes. */
  get maxLineLength(): number {
    return this.#max;
  }

  /**
   * Writes `line` and `"\n"` with one `write` call.
   *
   * @param line The line, as text (encoded as UTF-8) or bytes.
   * @throws {MessageTooLargeError} When `line` is over `maxLineLength` bytes;
   *   nothing is written and the writer stays usable.
   * @throws {TypeError} When `line` is neither a string nor a Uint8Array, or
   *   contains `"\n"` or ends in `"\r"`; nothing is written.
   * @throws The destination's error, now or from an earlier failure.
   *
   * @example Write one line
   * ```ts
   * import { LineWriter } from "@netconn/netconn/bufio";
   * import assert from "node:assert/strict";
   *
   * const writes: string[] = [];
   * const sink = { write: (p: Uint8Array) => (writes.push(new TextDecoder().decode(p)), Promise.resolve(p.length)) };
   * await new LineWriter(sink).writeLine("PING");
   * assert.deepEqual(writes, ["PING\n"]);
   * ```
   */
  writeLine(line: string | Uint8Array): Promise<void> {
    const text = typeof line === "string";
    if (!text && !(line instanceof Uint8Array)) return refuse("a string or a Uint8Array", line);
    if (text ? line.includes("\n") : line.indexOf(LF) >= 0) {
      return refuse('a line without "\\n"', line);
    }
    if (text ? line.endsWith("\r") : line[line.length - 1] === CR) {
      return refuse('a line that does not end in "\\r"', line);
    }
    // A string is encoded straight into the message: at most 3 bytes a unit.
    const bound = text ? line.length * 3 : line.length;
    const size = bound > this.#max && text ? utf8Length(line) : line.length;
    if (size > this.#max) {
      return Promise.reject(
        new MessageTooLargeError(
          `Line of ${size} bytes exceeds the maximum line length of ${this.#max} bytes`,
          { size, limit: this.#max },
        ),
      );
    }
    return this.#out.send(bound + 1, (buf) => {
      const n = text ? encoder.encodeInto(line, buf).written : (buf.set(line), line.length);
      buf[n] = LF;
      return n + 1;
    });
  }
}
