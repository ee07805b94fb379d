/**
 * The chunk pool: buffers for runtime writes, by power-of-two size class from
 * 1 KiB to {@linkcode MAX_CHUNK}, shared by every conn so that an idle conn
 * holds none. Each class keeps at most 1 MiB of free buffers, so the pool
 * keeps under 12 MiB. Internal.
 *
 * @module
 */

/** The largest chunk handed to one runtime write. */
export const MAX_CHUNK = 1 << 20;

const MIN_CLASS = 10;
const MAX_CLASS = 20; // log2(MAX_CHUNK)
const CLASS_BYTES = 1 << 20;
const pool: Uint8Array[][] = Array.from({ length: MAX_CLASS + 1 }, () => []);

function sizeClass(len: number): number {
  return Math.max(MIN_CLASS, 32 - Math.clz32(len - 1));
}

/** A buffer of exactly `len` bytes (1 to MAX_CHUNK), from the pool when one is free. */
export function takeChunk(len: number): Uint8Array {
  const cls = sizeClass(len);
  const buf = pool[cls]!.pop() ?? new Uint8Array(1 << cls);
  return buf.length === len ? buf : buf.subarray(0, len);
}

/** Gives a chunk from {@linkcode takeChunk} back; nothing may use it afterwards. */
export function giveChunk(chunk: Uint8Array): void {
  const buf = new Uint8Array(chunk.buffer);
  const cls = 31 - Math.clz32(buf.length);
  const free = pool[cls];
  if (free !== undefined && (free.length + 1) << cls <= CLASS_BYTES) free.push(buf);
}
