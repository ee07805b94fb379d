/**
 * Concurrent writers sharing one connection: each writer sends its share of
 * length-prefixed frames, one write per frame, and the other end parses every
 * frame and checks it is whole, from a known writer and next in that
 * writer's sequence. A torn frame (bytes of two writers interleaved) fails
 * the workload with the count of corrupted frames.
 *
 * @module
 */

import type { Conn } from "../mod.ts";
import { writeAll } from "../_kit/bytes.ts";

/** Writes one whole frame; the frame's buffer is reused once it resolves. */
export type FrameSink = (frame: Uint8Array) => Promise<unknown>;

/** The receiving end: a raw Deno conn or a netconn Conn. */
export type FrameSource = Pick<Deno.Conn, "read">;

/** netconn: each frame is one `conn.write`, contiguous on the wire by contract. */
export function connSink(conn: Conn): FrameSink {
  return (frame) => conn.write(frame);
}

/** Raw Deno, one writer: a writeAll loop per frame. */
export function rawSink(conn: Deno.Conn): FrameSink {
  return (frame) => writeAll(conn, frame);
}

/**
 * Raw Deno, shared: writeAll loops serialised by a hand-rolled promise-chain
 * lock, the least a raw user must write to keep frames whole.
 */
export function rawLockedSink(conn: Deno.Conn): FrameSink {
  let tail: Promise<unknown> = Promise.resolve();
  return (frame) => {
    const run = tail.then(() => writeAll(conn, frame));
    tail = run.catch(() => {});
    return run;
  };
}

/** The workload's shape. */
export interface WritersOptions {
  /** Concurrent writers, 1 to 65536. */
  writers: number;
  /** Frames in all, a multiple of `writers`. */
  frames: number;
  /** Bytes per frame, header included, >= 12. */
  size: number;
}

// A frame: [size - 4 u32 BE][writer u16][seq u32][filler (writer + j) & 0xff][seq & 0xff]
function stampFrame(frame: Uint8Array, seq: number): void {
  frame[6] = seq >>> 24;
  frame[7] = seq >>> 16;
  frame[8] = seq >>> 8;
  frame[9] = seq;
  frame[frame.length - 1] = seq;
}

function newFrame(size: number, writer: number): Uint8Array {
  const frame = new Uint8Array(size).map((_, j) => (writer + j) & 0xff);
  new DataView(frame.buffer).setUint32(0, size - 4);
  frame[4] = writer >>> 8;
  frame[5] = writer;
  return frame;
}

/**
 * Reads `frames` frames of `size` bytes from `conn` and checks each one.
 * After the first bad frame the parser has lost its place: it drains the
 * rest of the bytes (so the writers can finish) and reports where it was.
 *
 * @returns How many frames were whole before the first bad one, and whether
 *   there was one.
 */
async function receiveFrames(
  conn: FrameSource,
  options: WritersOptions,
): Promise<{ whole: number; corrupted: boolean }> {
  const { writers, frames, size } = options;
  const next = new Uint32Array(writers); // next expected seq of each writer
  const buf = new Uint8Array(Math.max(64 * 1024, 2 * size));
  let r = 0; // buf[r, w) holds unparsed bytes
  let w = 0;
  let whole = 0;
  let corrupted = false;
  for (let left = frames * size; left > 0;) {
    const n = await conn.read(buf.subarray(w, Math.min(buf.length, w + left)));
    if (n === null) throw new Error(`Writers: EOF after ${whole} of ${frames} frames`);
    left -= n;
    if (corrupted) continue;
    w += n;
    for (; w - r >= size; r += size) {
      const len = ((buf[r]! << 24) | (buf[r + 1]! << 16) | (buf[r + 2]! << 8) | buf[r + 3]!) >>> 0;
      const writer = (buf[r + 4]! << 8) | buf[r + 5]!;
      const seq = ((buf[r + 6]! << 24) | (buf[r + 7]! << 16) | (buf[r + 8]! << 8) | buf[r + 9]!) >>>
        0;
      const ok = len === size - 4 && writer < writers && seq === next[writer] &&
        buf[r + 10] === ((writer + 10) & 0xff) &&
        buf[r + size - 2] === ((writer + size - 2) & 0xff) && buf[r + size - 1] === (seq & 0xff);
      if (!ok) {
        corrupted = true;
        break;
      }
      next[writer]!++;
      whole++;
    }
    buf.copyWithin(0, r, w);
    w -= r;
    r = 0;
  }
  return { whole, corrupted: corrupted || whole !== frames };
}

/**
 * `writers` tasks each send `frames / writers` frames through `sink` at the
 * same time, while `receiver` checks every frame.
 *
 * @throws {Error} If any frame arrived torn, lost or out of its writer's order.
 */
export async function concurrentWriters(
  sink: FrameSink,
  receiver: FrameSource,
  options: WritersOptions,
): Promise<void> {
  const { writers, frames, size } = options;
  if (frames % writers !== 0 || size < 12 || writers > 0xffff) {
    throw new RangeError(`Bad writers workload: ${JSON.stringify(options)}`);
  }
  const each = frames / writers;
  const write = async (writer: number): Promise<void> => {
    const frame = newFrame(size, writer);
    for (let seq = 0; seq < each; seq++) {
      stampFrame(frame, seq);
      await sink(frame);
    }
  };
  const tasks: Promise<void>[] = [];
  for (let k = 0; k < writers; k++) tasks.push(write(k));
  const [got] = await Promise.all([receiveFrames(receiver, options), Promise.all(tasks)]);
  if (got.corrupted) {
    throw new Error(`Writers: frame ${got.whole} of ${frames} arrived torn or out of order`);
  }
}
