// Internal adapters that let the buffered types run over web streams: a
// ReadableStream<Uint8Array> becomes a Reader, a WritableStream<Uint8Array> a
// Writer. Each holds its stream's lock until `release` is called.

import { describe } from "../_check.ts";
import type { Reader, Writer } from "./io.ts";

/** Largest scratch buffer a BYOB adapter keeps between reads (64 KiB). */
const MAX_SCRATCH = 64 * 1024;

/** A Reader or Writer made from a stream, holding the stream's lock. */
export interface StreamAdapter {
  /** Releases the stream's lock; the adapter must not be used afterwards. */
  release(): void;
}

/**
 * Reads a byte stream through a BYOB reader. A BYOB read transfers the buffer
 * it is given, so the adapter reads into its own scratch buffer (taking back
 * the transferred one each time) and copies into the caller's: the caller's
 * buffer is never detached.
 */
class ByobReader implements Reader, StreamAdapter {
  #reader: ReadableStreamBYOBReader;
  #scratch: ArrayBuffer | undefined = undefined;

  constructor(reader: ReadableStreamBYOBReader) {
    this.#reader = reader;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    let scratch = this.#scratch;
    if (scratch === undefined || scratch.byteLength < Math.min(p.length, MAX_SCRATCH)) {
      scratch = new ArrayBuffer(Math.min(Math.max(p.length, 4096), MAX_SCRATCH));
    }
    this.#scratch = undefined; // transferred by the read below
    const view = new Uint8Array(scratch, 0, Math.min(p.length, scratch.byteLength));
    const { value, done } = await this.#reader.read(view);
    if (value !== undefined) this.#scratch = value.buffer as ArrayBuffer;
    if (done || value === undefined) return null;
    p.set(value);
    return value.length;
  }

  release(): void {
    this.#reader.releaseLock();
  }
}

/**
 * Reads any stream of Uint8Array chunks through a default reader, keeping the
 * part of a chunk that did not fit for the next read.
 */
class ChunkReader implements Reader, StreamAdapter {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #rest: Uint8Array | undefined = undefined;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#reader = reader;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    let chunk = this.#rest;
    if (chunk === undefined) {
      const { value, done } = await this.#reader.read();
      if (done) return null;
      if (!(value instanceof Uint8Array)) {
        throw new TypeError(
          `ReadableStream chunk must be a Uint8Array: received ${describe(value)}`,
        );
      }
      chunk = value;
    }
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    this.#rest = n < chunk.length ? chunk.subarray(n) : undefined;
    return n;
  }

  release(): void {
    this.#reader.releaseLock();
  }
}

/**
 * Writes to a WritableStream. A stream may keep a chunk after its write
 * resolves (an identity TransformStream hands it to its readable side), and
 * the buffered writers reuse their buffers, so each write sends a copy.
 */
class StreamWriter implements Writer, StreamAdapter {
  #writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(writer: WritableStreamDefaultWriter<Uint8Array>) {
    this.#writer = writer;
  }

  async write(p: Uint8Array): Promise<number> {
    if (p.length === 0) return 0;
    await this.#writer.write(p.slice());
    return p.length;
  }

  release(): void {
    this.#writer.releaseLock();
  }
}

/**
 * Throws a TypeError naming `where` unless `source` is a Reader or a
 * ReadableStream.
 */
export function checkSource(
  source: unknown,
  where: string,
): asserts source is Reader | ReadableStream<Uint8Array> {
  if (
    !(source instanceof ReadableStream) &&
    typeof (source as Partial<Reader> | null | undefined)?.read !== "function"
  ) {
    throw new TypeError(
      `${where} takes a Reader or a ReadableStream<Uint8Array>: received ${describe(source)}`,
    );
  }
}

/**
 * Returns `source` as a Reader. A ReadableStream is locked and read through a
 * BYOB reader when it is a byte stream, through a default reader otherwise;
 * the adapter comes back as `adapter` so its owner can release the lock.
 * `where` names the caller in the TypeError for anything else.
 */
export function toReader(
  source: Reader | ReadableStream<Uint8Array>,
  where: string,
): { reader: Reader; adapter: StreamAdapter | undefined } {
  checkSource(source, where);
  if (!(source instanceof ReadableStream)) return { reader: source, adapter: undefined };
  let adapter: ByobReader | ChunkReader;
  try {
    adapter = new ByobReader(source.getReader({ mode: "byob" }));
  } catch (e) {
    if (source.locked) throw e;
    adapter = new ChunkReader(source.getReader());
  }
  return { reader: adapter, adapter };
}

/**
 * Returns `sink` as a Writer. A WritableStream is locked with a default
 * writer; the adapter comes back as `adapter` so its owner can release it.
 * `where` names the caller in the TypeError for anything else.
 */
export function toWriter(
  sink: Writer | WritableStream<Uint8Array>,
  where: string,
): { writer: Writer; adapter: StreamAdapter | undefined } {
  if (!(sink instanceof WritableStream)) {
    if (typeof (sink as Partial<Writer> | null | undefined)?.write !== "function") {
      throw new TypeError(
        `${where} takes a Writer or a WritableStream<Uint8Array>: received ${describe(sink)}`,
      );
    }
    return { writer: sink, adapter: undefined };
  }
  const adapter = new StreamWriter(sink.getWriter());
  return { writer: adapter, adapter };
}
