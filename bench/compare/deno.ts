// The peers comparison, Deno's side: raw Deno.Conn or netconn, both ends of a
// loopback pair in this one process. Run by bench/compare/run.ts as
//
//   deno run --allow-net bench/compare/deno.ts --impl=raw|netconn
//
// Every peer (this file, node.mjs, go/main.go) speaks the same JSON lines:
// it prints {"peer", "runtime"} once, then for each request on stdin,
// {"workload", "ms", "buffer"}, it runs that workload for one slice and prints
// {"workload", "unit", "rate"}; it exits at the end of stdin. The runner thus
// interleaves the peers slice by slice, and a burst of load from elsewhere
// hits all of them alike.
//
// The workloads, the same in every peer, each checking what it received:
//
// - bulk: 64 KiB writes, read into a 64 KiB buffer; byte k of the stream is
//   k & 0xff, and the first and last byte of every read are checked. MiB/s.
// - pingpong: 32-byte round trips, [round u32 BE] ... [round & 0xff]; the
//   echo is compared byte for byte. Round trips/s.
// - msg: 64-byte messages, one write each. Message m is [m u32 BE]
//   [32 + j filler] [m & 0xff]; the receiver (64 KiB reads) checks bytes 0-3,
//   20 and 63 of every message. Messages/s.
// - msg-buf: the same messages through a `buffer`-byte buffer: netconn's
//   BufWriter (`await bw.write(msg)`), Go's bufio.Writer, a hand-rolled
//   buffer for raw Deno and Node; flushed at the end of each unit.
// - msg-buf-fast: the same, with no await per message where a peer has such
//   a path: netconn's `bw.tryWrite(msg) || await bw.write(msg)`, Node's
//   cork/uncork; the others run their msg-buf code again.
// - frames-1, frames-8: 1 KiB frames [size - 4 u32 BE][writer u16][seq u32]
//   [filler (writer + j) & 0xff][seq & 0xff], one write per frame, from 1 or
//   8 concurrent writers on one conn; the receiver parses every frame and
//   checks it whole and next in its writer's order. Frames/s. Raw Deno
//   serialises its writers with a promise-chain lock (its writes are not
//   contiguous otherwise); netconn's, Node's and Go's writes are.
//
// A slice repeats a unit of work until `ms` have passed, on a fresh loopback
// pair (set up untimed): one pair used for long slows down, in every
// runtime, as small writes pile up in the kernel (raw Deno, 64-byte
// messages: 335k/s falling to 107k/s over 3 s on one pair, steady on fresh
// ones).

import { BufWriter } from "../../bufio/mod.ts";
import { type Conn, dial, listen } from "../../mod.ts";
import { lines } from "../_lines.ts";

/** One end of a loopback conn, as the workloads drive it. */
interface End {
  read(p: Uint8Array): Promise<number | null>;
  writeAll(p: Uint8Array): Promise<void>;
  /** Sends `count` messages through a buffer; `fast` skips the await where it can. */
  buffered(size: number, fast: boolean): (count: number) => Promise<void>;
  /** Writes one frame whole, safe to call from `writers` tasks at once. */
  frameSink(writers: number): (frame: Uint8Array) => Promise<unknown>;
  close(): void;
}

const MSG = 64;
const PING = 32;
const CHUNK = 64 * 1024;
const FRAME = 1024;

// ---- raw Deno ----

async function rawWriteAll(conn: Deno.Conn, p: Uint8Array): Promise<void> {
  for (let off = 0; off < p.length;) off += await conn.write(off === 0 ? p : p.subarray(off));
}

function rawEnd(conn: Deno.TcpConn): End {
  conn.setNoDelay(true);
  return {
    read: (p) => conn.read(p),
    writeAll: (p) => rawWriteAll(conn, p),
    buffered(size) {
      const buf = new Uint8Array(size);
      const msg = newMessage();
      return async (count) => {
        let n = 0;
        for (let m = 0; m < count; m++) {
          stamp(msg, m);
          if (n + MSG > size) {
            await rawWriteAll(conn, buf.subarray(0, n));
            n = 0;
          }
          buf.set(msg, n);
          n += MSG;
        }
        if (n > 0) await rawWriteAll(conn, buf.subarray(0, n));
      };
    },
    frameSink(writers) {
      if (writers === 1) return (frame) => rawWriteAll(conn, frame);
      let tail: Promise<unknown> = Promise.resolve();
      return (frame) => {
        const run = tail.then(() => rawWriteAll(conn, frame));
        tail = run.catch(() => {});
        return run;
      };
    },
    close: () => conn.close(),
  };
}

async function rawPair(): Promise<[End, End]> {
  using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([Deno.connect({ port: ln.addr.port }), ln.accept()]);
  return [rawEnd(a), rawEnd(b)];
}

// ---- netconn ----

function connEnd(conn: Conn): End {
  return {
    read: (p) => conn.read(p),
    async writeAll(p) {
      await conn.write(p);
    },
    buffered(size, fast) {
      const bw = new BufWriter(conn, size);
      const msg = newMessage();
      if (fast) {
        return async (count) => {
          for (let m = 0; m < count; m++) {
            stamp(msg, m);
            if (!bw.tryWrite(msg)) await bw.write(msg);
          }
          await bw.flush();
        };
      }
      return async (count) => {
        for (let m = 0; m < count; m++) {
          stamp(msg, m);
          await bw.write(msg);
        }
        await bw.flush();
      };
    },
    frameSink: () => (frame) => conn.write(frame),
    close: () => conn.close(),
  };
}

async function connPair(): Promise<[End, End]> {
  await using ln = listen("127.0.0.1:0");
  const [a, b] = await Promise.all([dial(ln.addr), ln.accept()]);
  return [connEnd(a), connEnd(b)];
}

// ---- the workloads: one unit of work each, checked ----

const SOURCE = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

async function bulk(from: End, to: End, total: number): Promise<void> {
  const send = async (): Promise<void> => {
    for (let sent = 0; sent < total; sent += CHUNK) await from.writeAll(SOURCE);
  };
  const receive = async (): Promise<void> => {
    const buf = new Uint8Array(CHUNK);
    for (let got = 0; got < total;) {
      const n = await to.read(buf);
      if (n === null) throw new Error(`bulk: EOF after ${got} of ${total} bytes`);
      if (buf[0] !== (got & 0xff) || buf[n - 1] !== ((got + n - 1) & 0xff)) {
        throw new Error(`bulk: wrong byte near offset ${got}`);
      }
      got += n;
    }
  };
  await Promise.all([send(), receive()]);
}

async function readFull(from: End, p: Uint8Array): Promise<void> {
  for (let off = 0; off < p.length;) {
    const n = await from.read(off === 0 ? p : p.subarray(off));
    if (n === null) throw new Error(`EOF after ${off} of ${p.length} bytes`);
    off += n;
  }
}

async function pingPong(client: End, server: End, rounds: number): Promise<void> {
  const echo = async (): Promise<void> => {
    const msg = new Uint8Array(PING);
    for (let i = 0; i < rounds; i++) {
      await readFull(server, msg);
      await server.writeAll(msg);
    }
  };
  const ping = async (): Promise<void> => {
    const msg = new Uint8Array(PING);
    const back = new Uint8Array(PING);
    for (let i = 0; i < rounds; i++) {
      new DataView(msg.buffer).setUint32(0, i);
      msg[PING - 1] = i;
      await client.writeAll(msg);
      await readFull(client, back);
      for (let j = 0; j < PING; j++) {
        if (back[j] !== msg[j]) throw new Error(`pingpong: round ${i} echoed a wrong byte ${j}`);
      }
    }
  };
  await Promise.all([echo(), ping()]);
}

function newMessage(): Uint8Array {
  return new Uint8Array(MSG).map((_, j) => 32 + j);
}

function stamp(msg: Uint8Array, m: number): void {
  msg[0] = m >>> 24;
  msg[1] = m >>> 16;
  msg[2] = m >>> 8;
  msg[3] = m;
  msg[MSG - 1] = m;
}

function messageByte(m: number, j: number): number {
  return j < 4 ? (m >>> (24 - 8 * j)) & 0xff : j === MSG - 1 ? m & 0xff : 32 + j;
}

const CHECKED = [0, 1, 2, 3, 20, MSG - 1];

async function receiveMessages(to: End, count: number): Promise<void> {
  const buf = new Uint8Array(CHUNK);
  const total = count * MSG;
  for (let off = 0; off < total;) {
    const n = await to.read(buf.subarray(0, Math.min(CHUNK, total - off)));
    if (n === null) throw new Error(`msg: EOF after ${off} of ${total} bytes`);
    const end = off + n;
    for (let m = Math.floor(off / MSG); m * MSG < end; m++) {
      for (const j of CHECKED) {
        const k = m * MSG + j;
        if (k >= off && k < end && buf[k - off] !== messageByte(m, j)) {
          throw new Error(`msg: message ${m} arrived torn or out of order (byte ${j})`);
        }
      }
    }
    off = end;
  }
}

async function unbuffered(from: End, count: number): Promise<void> {
  const msg = newMessage();
  for (let m = 0; m < count; m++) {
    stamp(msg, m);
    await from.writeAll(msg);
  }
}

function newFrame(writer: number): Uint8Array {
  const frame = new Uint8Array(FRAME).map((_, j) => (writer + j) & 0xff);
  new DataView(frame.buffer).setUint32(0, FRAME - 4);
  frame[4] = writer >>> 8;
  frame[5] = writer;
  return frame;
}

async function receiveFrames(to: End, writers: number, frames: number): Promise<void> {
  const next = new Uint32Array(writers);
  const buf = new Uint8Array(CHUNK);
  let r = 0; // buf[r, w) holds bytes not parsed yet
  let w = 0;
  let whole = 0;
  for (let left = frames * FRAME; left > 0;) {
    const n = await to.read(buf.subarray(w, Math.min(buf.length, w + left)));
    if (n === null) throw new Error(`frames: EOF after ${whole} of ${frames} frames`);
    left -= n;
    w += n;
    for (; w - r >= FRAME; r += FRAME) {
      const len = ((buf[r]! << 24) | (buf[r + 1]! << 16) | (buf[r + 2]! << 8) | buf[r + 3]!) >>> 0;
      const writer = (buf[r + 4]! << 8) | buf[r + 5]!;
      const seq = ((buf[r + 6]! << 24) | (buf[r + 7]! << 16) | (buf[r + 8]! << 8) | buf[r + 9]!) >>>
        0;
      const ok = len === FRAME - 4 && writer < writers && seq === next[writer] &&
        buf[r + 10] === ((writer + 10) & 0xff) &&
        buf[r + FRAME - 2] === ((writer + FRAME - 2) & 0xff) && buf[r + FRAME - 1] === (seq & 0xff);
      if (!ok) throw new Error(`frames: frame ${whole} of ${frames} arrived torn or out of order`);
      next[writer]!++;
      whole++;
    }
    buf.copyWithin(0, r, w);
    w -= r;
    r = 0;
  }
}

async function framed(from: End, to: End, writers: number, frames: number): Promise<void> {
  const sink = from.frameSink(writers);
  const each = frames / writers;
  const write = async (writer: number): Promise<void> => {
    const frame = newFrame(writer);
    for (let seq = 0; seq < each; seq++) {
      frame[6] = seq >>> 24;
      frame[7] = seq >>> 16;
      frame[8] = seq >>> 8;
      frame[9] = seq;
      frame[FRAME - 1] = seq;
      await sink(frame);
    }
  };
  const tasks = Array.from({ length: writers }, (_, k) => write(k));
  await Promise.all([receiveFrames(to, writers, frames), ...tasks]);
}

// ---- slices ----

interface Workload {
  name: string;
  unit: string;
  /** Work done by one unit, in `unit`s. */
  work: number;
  /** Sets up on a pair; returns one unit of work. */
  prepare(client: End, server: End, buffer: number): () => Promise<void>;
}

const BULK_MIB = 16;
const ROUNDS = 1000;
const MESSAGES = 2000;
const BUFFERED = 20_000;
const FRAMES = 1600;

function workloads(): Workload[] {
  const buffered = (fast: boolean) => (client: End, server: End, buffer: number) => {
    const send = client.buffered(buffer, fast);
    return async () => {
      await Promise.all([send(BUFFERED), receiveMessages(server, BUFFERED)]);
    };
  };
  return [
    {
      name: "bulk",
      unit: "MiB/s",
      work: BULK_MIB,
      prepare: (c, s) => () => bulk(c, s, BULK_MIB * 1024 * 1024),
    },
    {
      name: "pingpong",
      unit: "round trips/s",
      work: ROUNDS,
      prepare: (c, s) => () => pingPong(c, s, ROUNDS),
    },
    {
      name: "msg",
      unit: "msgs/s",
      work: MESSAGES,
      prepare: (c, s) => async () => {
        await Promise.all([unbuffered(c, MESSAGES), receiveMessages(s, MESSAGES)]);
      },
    },
    { name: "msg-buf", unit: "msgs/s", work: BUFFERED, prepare: buffered(false) },
    { name: "msg-buf-fast", unit: "msgs/s", work: BUFFERED, prepare: buffered(true) },
    {
      name: "frames-1",
      unit: "frames/s",
      work: FRAMES,
      prepare: (c, s) => () => framed(c, s, 1, FRAMES),
    },
    {
      name: "frames-8",
      unit: "frames/s",
      work: FRAMES,
      prepare: (c, s) => () => framed(c, s, 8, FRAMES),
    },
  ];
}

/** Runs units until `ms` have passed; returns the rate in units of work per second. */
async function slice(unit: () => Promise<void>, work: number, ms: number): Promise<number> {
  let done = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    await unit();
    done += work;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return done / (elapsed / 1000);
}

const encoder = new TextEncoder();

function reply(message: Record<string, unknown>): void {
  const bytes = encoder.encode(`${JSON.stringify(message)}\n`);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

async function main(): Promise<void> {
  const impl = Deno.args.find((a) => a.startsWith("--impl="))?.slice(7) ?? "netconn";
  if (impl !== "raw" && impl !== "netconn") throw new RangeError(`Invalid --impl "${impl}"`);
  const pair = impl === "raw" ? rawPair : connPair;
  const byName = new Map(workloads().map((w) => [w.name, w]));
  reply({ peer: impl === "raw" ? "deno-raw" : "netconn", runtime: `deno ${Deno.version.deno}` });
  for await (const line of lines(Deno.stdin.readable)) {
    if (line.trim() === "") continue;
    const req = JSON.parse(line) as { workload: string; ms: number; buffer: number };
    const w = byName.get(req.workload);
    if (w === undefined) throw new RangeError(`Unknown workload "${req.workload}"`);
    const [client, server] = await pair();
    try {
      const rate = await slice(w.prepare(client, server, req.buffer), w.work, req.ms);
      reply({ workload: w.name, unit: w.unit, rate });
    } finally {
      client.close();
      server.close();
    }
  }
}

if (import.meta.main) await main();
