// Test doubles in the spirit of Go's testing/iotest: readers that return one
// byte, half the request, or fail after n bytes, and writers that record, fail
// or accept part of each write. The bytes they carry come from _kit/bytes.ts.

import type { Reader, Writer } from "../bufio/mod.ts";
import { concat } from "../_kit/bytes.ts";

/** Reads `data` from memory, as much as asked for. */
export class BytesReader implements Reader {
  #data: Uint8Array;
  #off = 0;
  /** Number of read calls made. */
  calls = 0;
  /** Bytes handed out so far. */
  get offset(): number {
    return this.#off;
  }
  constructor(data: Uint8Array | string) {
    this.#data = typeof data === "string" ? new TextEncoder().encode(data) : data;
  }
  read(p: Uint8Array): Promise<number | null> {
    this.calls++;
    if (this.#off >= this.#data.length) return Promise.resolve(p.length === 0 ? 0 : null);
    const n = Math.min(p.length, this.#data.length - this.#off);
    p.set(this.#data.subarray(this.#off, this.#off + n));
    this.#off += n;
    return Promise.resolve(n);
  }
}

/** A reader that never ends: every read fills the buffer with "a" and counts what it served. */
export class EndlessReader implements Reader {
  served = 0;

  read(p: Uint8Array): Promise<number> {
    p.fill(0x61);
    this.served += p.length;
    return Promise.resolve(p.length);
  }
}

/** Returns at most one byte per read, as Go's iotest.OneByteReader. */
export class OneByteReader implements Reader {
  #rd: Reader;
  constructor(rd: Reader) {
    this.#rd = rd;
  }
  read(p: Uint8Array): Promise<number | null> {
    return this.#rd.read(p.subarray(0, Math.min(1, p.length)));
  }
}

/** Reads half of what is asked (rounded up), as Go's iotest.HalfReader. */
export class HalfReader implements Reader {
  #rd: Reader;
  constructor(rd: Reader) {
    this.#rd = rd;
  }
  read(p: Uint8Array): Promise<number | null> {
    return this.#rd.read(p.subarray(0, Math.ceil(p.length / 2)));
  }
}

/** Hands out `n` bytes of `rd`, then throws `err` on every later read. */
export class ErrAfterReader implements Reader {
  #rd: Reader;
  #left: number;
  #err: unknown;
  constructor(rd: Reader, n: number, err: unknown) {
    this.#rd = rd;
    this.#left = n;
    this.#err = err;
  }
  async read(p: Uint8Array): Promise<number | null> {
    if (this.#left <= 0) throw this.#err;
    const got = await this.#rd.read(p.subarray(0, Math.min(p.length, this.#left)));
    if (got !== null) this.#left -= got;
    return got;
  }
}

/** Returns the given results in order (bytes split to fit), then null. */
export class ScriptReader implements Reader {
  #script: (number | null | Error | Uint8Array)[];
  calls = 0;
  constructor(script: (number | null | Error | Uint8Array)[]) {
    this.#script = script;
  }
  read(p: Uint8Array): Promise<number | null> {
    this.calls++;
    const step = this.#script.shift();
    if (step === undefined || step === null) return Promise.resolve(null);
    if (step instanceof Error) return Promise.reject(step);
    if (step instanceof Uint8Array) {
      const n = Math.min(p.length, step.length);
      p.set(step.subarray(0, n));
      if (n < step.length) this.#script.unshift(step.subarray(n));
      return Promise.resolve(n);
    }
    return Promise.resolve(step);
  }
}

/** Makes one of the reader kinds over `data`, by name. */
export const READER_KINDS: Record<string, (data: Uint8Array) => Reader> = {
  full: (data) => new BytesReader(data),
  "one-byte": (data) => new OneByteReader(new BytesReader(data)),
  half: (data) => new HalfReader(new BytesReader(data)),
};

/** Buffer sizes from the minimum to 64 KiB, odd ones included. */
export const BUFFER_SIZES = [16, 17, 23, 32, 46, 64, 93, 128, 1024, 4096, 65536];

/** Records a copy of every write; can accept only part, or fail. */
export class RecordingWriter implements Writer {
  /** Copies of what each write call accepted. */
  writes: Uint8Array[] = [];
  /** The arrays passed to write, as given. */
  given: Uint8Array[] = [];
  /** Accept at most this many bytes per call. */
  limit = Infinity;
  /** Throw this on the next write, once. */
  failNext: unknown = undefined;
  write(p: Uint8Array): Promise<number> {
    this.given.push(p);
    if (this.failNext !== undefined) {
      const err = this.failNext;
      this.failNext = undefined;
      return Promise.reject(err);
    }
    const n = Math.min(p.length, this.limit);
    this.writes.push(p.slice(0, n));
    return Promise.resolve(n);
  }
  /** Everything written, joined. */
  bytes(): Uint8Array {
    return concat(this.writes);
  }
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}

/** A byte stream (BYOB-capable) that enqueues the given chunks, then closes. */
export function byteStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk === undefined) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      controller.enqueue(chunk.slice());
    },
  });
}
