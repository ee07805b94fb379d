/**
 * Small-message workloads over a real loopback conn: 64-byte messages written
 * one by one, through a BufWriter or through a hand-rolled buffer; 64-byte
 * lines and length-prefixed frames read with netconn's readers or a
 * hand-rolled parser. Every message carries its sequence number and the other
 * end checks each one, so a lost, repeated, reordered or torn message fails
 * the workload.
 *
 * @module
 */

import { BufReader, BufWriter, FrameReader } from "../bufio/mod.ts";
import type { Conn } from "../mod.ts";
import { writeAll } from "../_kit/bytes.ts";

/** Bytes per message, line (with "\n") or frame (with its 4-byte header). */
export const SIZE = 64;
/** Buffer size of every buffered variant, hand-rolled or netconn's. */
export const BUFFER = 64 * 1024;

// ---- 64-byte messages: [seq u32 BE][filler 32 + j][seq & 0xff] ----

/** Puts message `m` in `msg` (SIZE bytes; the filler is set once by {@linkcode newMessage}). */
export function stamp(msg: Uint8Array, m: number): void {
  msg[0] = m >>> 24;
  msg[1] = m >>> 16;
  msg[2] = m >>> 8;
  msg[3] = m;
  msg[SIZE - 1] = m;
}

/** A message buffer with its filler bytes set. */
export function newMessage(): Uint8Array {
  return new Uint8Array(SIZE).map((_, j) => 32 + j);
}

/** The byte at offset `j` of message `m`, for the positions the receiver checks. */
function messageByte(m: number, j: number): number {
  return j < 4 ? (m >>> (24 - 8 * j)) & 0xff : j === SIZE - 1 ? m & 0xff : 32 + j;
}

const CHECKED = [0, 1, 2, 3, 20, SIZE - 1];

/**
 * Reads `count` messages from `conn` into a 64 KiB buffer and checks the
 * sequence bytes (and one filler byte) of every message.
 *
 * @throws {Error} At a wrong byte, or EOF before `count` messages.
 */
export async function receiveMessages(conn: Deno.Conn, count: number): Promise<void> {
  const buf = new Uint8Array(BUFFER);
  const total = count * SIZE;
  for (let off = 0; off < total;) {
    const n = await conn.read(buf.subarray(0, Math.min(BUFFER, total - off)));
    if (n === null) throw new Error(`Messages: EOF after ${off} of ${total} bytes`);
    const end = off + n;
    for (let m = Math.floor(off / SIZE); m * SIZE < end; m++) {
      for (const j of CHECKED) {
        const k = m * SIZE + j;
        if (k >= off && k < end && buf[k - off] !== messageByte(m, j)) {
          throw new Error(`Messages: message ${m} arrived torn or out of order (byte ${j})`);
        }
      }
    }
    off = end;
  }
}

/** A way to send `count` stamped messages. */
export type Sender = (count: number) => Promise<void>;

/**
 * Raw Deno: each message copied into a hand-rolled buffer of `size` bytes
 * (64 KiB), flushed with a writeAll loop.
 */
export function rawBuffered(conn: Deno.Conn, size = BUFFER): Sender {
  const buf = new Uint8Array(size);
  const msg = newMessage();
  return async (count) => {
    let n = 0;
    for (let m = 0; m < count; m++) {
      stamp(msg, m);
      if (n + SIZE > buf.length) {
        await writeAll(conn, buf.subarray(0, n));
        n = 0;
      }
      buf.set(msg, n);
      n += SIZE;
    }
    if (n > 0) await writeAll(conn, buf.subarray(0, n));
  };
}

/** Raw Deno: one write loop per message. */
export function rawUnbuffered(conn: Deno.Conn): Sender {
  const msg = newMessage();
  return async (count) => {
    for (let m = 0; m < count; m++) {
      stamp(msg, m);
      await writeAll(conn, msg);
    }
  };
}

/** netconn: one `conn.write` per message. */
export function connUnbuffered(conn: Conn): Sender {
  const msg = newMessage();
  return async (count) => {
    for (let m = 0; m < count; m++) {
      stamp(msg, m);
      await conn.write(msg);
    }
  };
}

/** netconn: a 64 KiB BufWriter over the conn, with its fast path `tryWrite`. */
export function connBufWriter(conn: Conn): Sender {
  const bw = new BufWriter(conn, BUFFER);
  const msg = newMessage();
  return async (count) => {
    for (let m = 0; m < count; m++) {
      stamp(msg, m);
      if (!bw.tryWrite(msg)) await bw.write(msg);
    }
    await bw.flush();
  };
}

/** netconn: a 64 KiB BufWriter over the conn, awaiting `write` for every message. */
export function connBufWriterAwait(conn: Conn): Sender {
  const bw = new BufWriter(conn, BUFFER);
  const msg = newMessage();
  return async (count) => {
    for (let m = 0; m < count; m++) {
      stamp(msg, m);
      await bw.write(msg);
    }
    await bw.flush();
  };
}

/** Sends `count` messages with `send` while `receiver` checks them. */
export async function writeMessages(
  send: Sender,
  receiver: Deno.Conn,
  count: number,
): Promise<void> {
  await Promise.all([send(count), receiveMessages(receiver, count)]);
}

// ---- lines and frames, sent by raw Deno in 64 KiB writes ----

const HEX = new TextEncoder().encode("0123456789abcdef");

/**
 * `count` lines of SIZE bytes: the line number in 8 hex digits, filler
 * letters, "\n".
 */
export function buildLines(count: number): Uint8Array {
  const out = new Uint8Array(count * SIZE);
  for (let m = 0; m < count; m++) {
    const base = m * SIZE;
    for (let j = 0; j < 8; j++) out[base + j] = HEX[(m >>> (28 - 4 * j)) & 0xf]!;
    for (let j = 8; j < SIZE - 1; j++) out[base + j] = 0x61 + (j % 26);
    out[base + SIZE - 1] = 0x0a;
  }
  return out;
}

/** Checks that `line` (without "\n") is line `m`. */
function checkLine(line: Uint8Array, m: number): void {
  let got = 0;
  for (let j = 0; j < 8; j++) {
    const c = line[j]!;
    got = got * 16 + (c <= 0x39 ? c - 0x30 : c - 0x57);
  }
  if (line.length !== SIZE - 1 || got !== m || line[SIZE - 2] !== 0x61 + ((SIZE - 2) % 26)) {
    throw new Error(`Lines: line ${m} arrived torn or out of order`);
  }
}

/** `count` frames: a u32 header of SIZE - 4, then [seq u32 BE][filler][seq & 0xff]. */
export function buildFrames(count: number): Uint8Array {
  const out = new Uint8Array(count * SIZE);
  const msg = newMessage();
  for (let m = 0; m < count; m++) {
    stamp(msg, m);
    out.set([0, 0, 0, SIZE - 4], m * SIZE);
    out.set(msg.subarray(0, SIZE - 4), m * SIZE + 4);
    out[m * SIZE + SIZE - 1] = m;
  }
  return out;
}

/** Checks that `payload` is frame `m`. */
function checkFrame(payload: Uint8Array, m: number): void {
  const seq = ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0;
  if (payload.length !== SIZE - 4 || seq !== m || payload[SIZE - 5] !== (m & 0xff)) {
    throw new Error(`Frames: frame ${m} arrived torn or out of order`);
  }
}

/** A way to read and check `count` lines or frames. */
export type Receiver = (count: number) => Promise<void>;

/** Raw Deno: a hand-rolled line splitter over a 64 KiB buffer. */
export function rawLines(conn: Deno.Conn): Receiver {
  const buf = new Uint8Array(BUFFER);
  return async (count) => {
    let r = 0;
    let w = 0;
    for (let m = 0; m < count;) {
      for (let i; m < count && (i = buf.indexOf(0x0a, r)) >= 0 && i < w; m++) {
        checkLine(buf.subarray(r, i), m);
        r = i + 1;
      }
      if (m === count) break;
      buf.copyWithin(0, r, w);
      w -= r;
      r = 0;
      const n = await conn.read(buf.subarray(w));
      if (n === null) throw new Error(`Lines: EOF after ${m} of ${count}`);
      w += n;
    }
    if (r !== w) throw new Error("Lines: bytes past the last line");
  };
}

/** BufReader (64 KiB) `readLine` over `rd`: a netconn Conn or a raw Deno conn. */
export function bufReaderLines(rd: Conn | Deno.Conn): Receiver {
  return async (count) => {
    const br = new BufReader(rd, BUFFER);
    for (let m = 0; m < count; m++) {
      const got = await br.readLine();
      if (got === null || got.more) throw new Error(`Lines: EOF or long line at ${m}`);
      checkLine(got.line, m);
    }
    if (br.buffered() !== 0) throw new Error("Lines: bytes past the last line");
  };
}

/** Raw Deno: a hand-rolled length-prefix parser over a 64 KiB buffer. */
export function rawFrames(conn: Deno.Conn): Receiver {
  const buf = new Uint8Array(BUFFER);
  return async (count) => {
    let r = 0;
    let w = 0;
    for (let m = 0; m < count;) {
      while (m < count && w - r >= 4) {
        const size = ((buf[r]! << 24) | (buf[r + 1]! << 16) | (buf[r + 2]! << 8) | buf[r + 3]!) >>>
          0;
        if (size > BUFFER - 4) throw new Error(`Frames: frame ${m} claims ${size} bytes`);
        if (w - r < 4 + size) break;
        checkFrame(buf.subarray(r + 4, r + 4 + size), m++);
        r += 4 + size;
      }
      if (m === count) break;
      buf.copyWithin(0, r, w);
      w -= r;
      r = 0;
      const n = await conn.read(buf.subarray(w));
      if (n === null) throw new Error(`Frames: EOF after ${m} of ${count}`);
      w += n;
    }
    if (r !== w) throw new Error("Frames: bytes past the last frame");
  };
}

/** FrameReader (64 KiB buffer) `readFrame` over `rd`: a netconn Conn or a raw Deno conn. */
export function frameReaderFrames(rd: Conn | Deno.Conn): Receiver {
  return async (count) => {
    const fr = new FrameReader(rd, { bufferSize: BUFFER });
    for (let m = 0; m < count; m++) {
      const got = await fr.readFrame();
      if (got === null) throw new Error(`Frames: EOF after ${m} of ${count}`);
      checkFrame(got, m);
    }
  };
}

/** Sends `data` from raw `sender` in 64 KiB writes while `receive` reads `count` items. */
export async function readMessages(
  receive: Receiver,
  sender: Deno.Conn,
  data: Uint8Array,
  count: number,
): Promise<void> {
  const send = async (): Promise<void> => {
    for (let off = 0; off < data.length; off += BUFFER) {
      await writeAll(sender, data.subarray(off, Math.min(off + BUFFER, data.length)));
    }
  };
  await Promise.all([send(), receive(count)]);
}
