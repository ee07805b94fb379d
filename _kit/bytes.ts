/**
 * Bytes for the tests, the probe and the bench: the two patterns (seeded
 * noise, and the counting stream whose byte k is k & 0xff), reading until
 * full or EOF, writing all of a buffer where a write may take only part, and
 * UTF-8 in and out. Works on a netconn Conn, a raw `Deno.Conn` or a test
 * double alike. Private to the repository.
 *
 * @module
 */

/** Anything with `read(p)`: a netconn Conn, a raw `Deno.Conn`, a test double. */
export interface Readable {
  read(p: Uint8Array): Promise<number | null>;
}

/** Anything with `write(p)` that may accept only part of `p`. */
export interface Writable {
  write(p: Uint8Array): Promise<number>;
}

/** `n` deterministic pseudo-random bytes (xorshift); each seed gives other bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * `n` bytes of the counting stream from `offset` on: the byte at stream
 * offset k is k & 0xff. A chunk whose length is a multiple of 256 continues
 * the stream when written again.
 */
export function ramp(n: number, offset = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (offset + i) & 0xff;
  return out;
}

/** The first index of `chunk` that is not the counting stream at `offset`, or -1. */
export function rampMismatch(chunk: Uint8Array, offset: number): number {
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== ((offset + i) & 0xff)) return i;
  return -1;
}

/**
 * Fills `p` from `r`.
 *
 * @throws {Error} At EOF before `p` is full.
 */
export async function readFull(r: Readable, p: Uint8Array): Promise<void> {
  for (let off = 0; off < p.length;) {
    const n = await r.read(off === 0 ? p : p.subarray(off));
    if (n === null) throw new Error(`Unexpected EOF after ${off} of ${p.length} bytes`);
    off += n;
  }
}

/** Reads until `n` bytes have come or EOF; returns what came. */
export async function readAtLeast(
  r: Readable,
  n: number,
  bufSize = 64 * 1024,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const buf = new Uint8Array(bufSize);
  while (got < n) {
    const m = await r.read(buf.subarray(0, Math.min(buf.length, n - got)));
    if (m === null) break;
    out.set(buf.subarray(0, m), got);
    got += m;
  }
  return out.subarray(0, got);
}

/** Options for {@linkcode drain}. */
export interface DrainOptions {
  /** Stop after this many bytes. @default {Infinity} */
  limit?: number;
  /** Check every byte against the counting stream ({@linkcode ramp}). @default {false} */
  check?: boolean;
  /** Bytes per read. @default {65536} */
  bufSize?: number;
}

/**
 * Reads until EOF or `limit` bytes.
 *
 * @returns The bytes read, and whether every one was the counting stream's
 *   (true when not checked).
 */
export async function drain(
  r: Readable,
  options: DrainOptions = {},
): Promise<{ bytes: number; intact: boolean }> {
  const { limit = Infinity, check = false, bufSize = 64 * 1024 } = options;
  const buf = new Uint8Array(bufSize);
  let bytes = 0;
  let intact = true;
  while (bytes < limit) {
    const n = await r.read(buf.subarray(0, Math.min(buf.length, limit - bytes)));
    if (n === null) break;
    if (check && intact && rampMismatch(buf.subarray(0, n), bytes) >= 0) intact = false;
    bytes += n;
  }
  return { bytes, intact };
}

/** Writes all of `p` with as many calls as it takes: what raw Deno callers must do. */
export async function writeAll(w: Writable, p: Uint8Array): Promise<void> {
  for (let off = 0; off < p.length;) off += await w.write(off === 0 ? p : p.subarray(off));
}

/** Joins byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** UTF-8 encode. */
export function enc(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** UTF-8 decode. */
export function dec(p: Uint8Array): string {
  return new TextDecoder().decode(p);
}
