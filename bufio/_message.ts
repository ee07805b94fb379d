/**
 * What the frame and line readers and writers share: the options and
 * BufReader a reader reads through, sticky failures, and a writer that puts
 * each message on the wire with one write call, in call order. Internal.
 *
 * @module
 */

import { checkInteger, checkOptions } from "../_check.ts";
import { Fifo, inTurn } from "../_io/wait.ts";
import { checkSource, type StreamAdapter, toWriter } from "./_stream.ts";
import { bufferSize, RESOLVED, writeAll } from "./_util.ts";
import { BufReader } from "./buf_reader.ts";
import { BufWriter } from "./buf_writer.ts";
import type { Reader, Writer } from "./io.ts";

/** Largest scratch buffer a message writer keeps between messages (64 KiB). */
const MAX_KEPT_SCRATCH = 64 * 1024;

/**
 * Checks a message reader's or writer's options: the limit `name`, an
 * integer from 0 to `max` that defaults to `fallback`, and `bufferSize`.
 * `where` names the caller.
 */
export function messageOptions(
  options: object | undefined,
  where: string,
  limit: { name: string; max: number; fallback: number },
): { limit: number; bufferSize: number | undefined } {
  const checked = checkOptions(options, where, [limit.name, "bufferSize"]) as Record<
    string,
    unknown
  >;
  const value = checked[limit.name] === undefined ? limit.fallback : checked[limit.name];
  checkInteger(value, `${where} option "${limit.name}"`, 0, limit.max);
  const size = checked.bufferSize;
  if (size !== undefined) bufferSize(size, `${where} option "bufferSize"`);
  return { limit: value, bufferSize: size as number | undefined };
}

/**
 * A failure that ends a message reader or writer for good: once one is
 * recorded, every later call fails with it.
 */
class Sticky {
  #failed = false;
  #err: unknown = undefined;

  /** True once an error is recorded. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Throws the recorded error, if any. */
  check(): void {
    if (this.#failed) throw this.#err;
  }

  /** Records `err` and returns it, for the caller to throw. */
  record(err: unknown): unknown {
    this.#failed = true;
    this.#err = err;
    return err;
  }
}

/**
 * Buffered: what a message reader's BufReader holds, for the reader's fast
 * path, seen through BufReader's public `tryPeek` and `tryDiscard` only.
 * When the reader made its BufReader itself, nothing else reads it, so a
 * view taken once stays valid, and stays what is buffered from `at` on, until
 * the reader's own slow path reads again: later messages are cut from the same
 * view, one allocation a message. A shared BufReader is looked at afresh each
 * time.
 */
export class Buffered {
  /** Where the unread bytes start in {@linkcode Buffered.view}. */
  at = 0;
  #br: BufReader;
  #owned: boolean;
  #view: Uint8Array | undefined = undefined;

  constructor(br: BufReader, owned: boolean) {
    this.#br = br;
    this.#owned = owned;
  }

  /** The buffered bytes, unread from `at` on; null while a read is pending. */
  view(): Uint8Array | null {
    if (this.#view !== undefined) return this.#view;
    const view = this.#br.tryPeek(this.#br.buffered());
    this.at = 0;
    if (view !== null && this.#owned) this.#view = view;
    return view;
  }

  /** Consumes `n` bytes from `at` on; they must be in the view. */
  consume(n: number): void {
    this.#br.tryDiscard(n);
    this.at += n;
  }

  /** Forgets the view: no whole message is left in it, or a read comes. */
  drop(): void {
    this.#view = undefined;
  }
}

/**
 * The read side every message reader shares: a synchronous fast path for a
 * message already whole in the buffer, else the slow path, one call after
 * the other in call order; a sticky failure; and async iteration over both.
 */
export class MessageReader<T> {
  /** The BufReader the messages come from. */
  readonly br: BufReader;
  /** Its buffered bytes, for the fast path. */
  readonly buffered: Buffered;
  /** The failure that ends the reader; the slow path records it. */
  readonly sticky: Sticky = new Sticky();
  #lock = new Fifo();
  #fastPath: () => T | undefined;
  #slowPath: () => Promise<T | null>;

  /**
   * @param source What the reader was given: a BufReader to read through, or
   *   a source to buffer.
   * @param bufferSize The size of the BufReader made for a source.
   * @param where The reader, for errors.
   * @param fast The fast path: the next message when it is whole in
   *   {@linkcode MessageReader.buffered}, consumed without awaiting; else
   *   undefined.
   * @param slow The slow path: reads the next message, or null at the end.
   */
  constructor(
    source: Reader | ReadableStream<Uint8Array> | BufReader,
    bufferSize: number | undefined,
    where: string,
    fast: () => T | undefined,
    slow: () => Promise<T | null>,
  ) {
    if (source instanceof BufReader) {
      this.br = source;
    } else {
      checkSource(source, where);
      this.br = new BufReader(source, bufferSize);
    }
    this.buffered = new Buffered(this.br, this.br !== source);
    this.#fastPath = fast;
    this.#slowPath = slow;
  }

  /** Reads the next message: the fast path when nothing is pending or failed. */
  read(): Promise<T | null> {
    const message = this.#fast();
    if (message !== undefined) return Promise.resolve(message);
    return inTurn(this.#lock, async () => {
      this.sticky.check();
      this.buffered.drop();
      return await this.#slowPath();
    });
  }

  /** Iterates over the messages until the end of the stream. */
  iterate(): AsyncIterableIterator<T> {
    const next = (): Promise<IteratorResult<T>> => {
      const message = this.#fast();
      if (message !== undefined) return Promise.resolve({ value: message, done: false });
      return this.read().then((m) =>
        m === null ? { value: undefined, done: true } : { value: m, done: false }
      );
    };
    return {
      next,
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  #fast(): T | undefined {
    return this.#lock.locked || this.sticky.failed ? undefined : this.#fastPath();
  }
}

/**
 * Sends whole messages: each is built in a scratch buffer and handed to the
 * destination in one `write` call (more only if the destination accepts part
 * of it), one message at a time, in call order.
 */
export class MessageWriter {
  #wr: Writer;
  #bw: BufWriter | undefined; // #wr when it is a BufWriter: messages that fit skip the await
  #adapter: StreamAdapter | undefined;
  #scratch: Uint8Array | undefined = undefined;
  #lock = new Fifo();
  #sticky = new Sticky();

  constructor(wr: Writer | WritableStream<Uint8Array>, where: string) {
    const { writer, adapter } = toWriter(wr, where);
    this.#wr = writer;
    this.#bw = writer instanceof BufWriter ? writer : undefined;
    this.#adapter = adapter;
  }

  /**
   * Copies the message `head` + `body` straight into a BufWriter destination
   * when it has room now and nothing is pending, without awaiting; returns
   * whether it did.
   */
  trySend(head: Uint8Array, body: Uint8Array): boolean {
    const bw = this.#bw;
    if (bw === undefined || this.#lock.locked || this.#sticky.failed) return false;
    if (head.length + body.length > bw.available() || !bw.tryWrite(head)) return false;
    bw.tryWrite(body); // fits: checked above, and nothing ran in between
    return true;
  }

  /**
   * Builds a message of at most `size` bytes with `build`, which returns its
   * length, and writes it. A failed write is sticky.
   */
  send(size: number, build: (buf: Uint8Array) => number): Promise<void> {
    const bw = this.#bw;
    if (bw !== undefined && !this.#lock.locked && !this.#sticky.failed && size <= bw.available()) {
      // Into a BufWriter with room, synchronously: no send is pending, so the
      // scratch buffer is free; if the BufWriter is busy, the slow path below
      // builds the message again.
      const buf = this.#scratchFor(size);
      if (bw.tryWrite(buf.subarray(0, build(buf)))) return RESOLVED;
    }
    return inTurn(this.#lock, async () => {
      this.#sticky.check();
      const buf = this.#scratchFor(size);
      const n = build(buf);
      try {
        await writeAll(this.#wr, buf.subarray(0, n));
      } catch (err) {
        throw this.#sticky.record(err);
      }
    });
  }

  /** Unlocks a WritableStream destination. */
  release(): void {
    this.#adapter?.release();
    this.#adapter = undefined;
  }

  #scratchFor(size: number): Uint8Array {
    const kept = this.#scratch;
    if (kept !== undefined && kept.length >= size) return kept;
    if (size > MAX_KEPT_SCRATCH) return new Uint8Array(size);
    const grown = new Uint8Array(
      Math.min(MAX_KEPT_SCRATCH, Math.max(size, 2 * (kept?.length ?? 512))),
    );
    this.#scratch = grown;
    return grown;
  }
}
