// The peers comparison, Deno's side: raw Deno.Conn or netconn, both ends of a
// loopback pair in this one process. Run by bench/compare/run.ts as
//
//   deno run --allow-net bench/compare/deno.ts --impl=raw|netconn
//
// Every peer (this file, node.mjs, go/compare/main.go) speaks the same JSON lines:
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
// The loops are the benches' own (bench/_loopback.ts, _messages.ts,
// _writers.ts), the pairs the kit's (_kit/loopback.ts); this file only picks
// raw Deno or netconn for each end.
//
// A slice repeats a unit of work until `ms` have passed, on a fresh loopback
// pair (set up untimed): one pair used for long slows down, in every
// runtime, as small writes pile up in the kernel (raw Deno, 64-byte
// messages: 335k/s falling to 107k/s over 3 s on one pair, steady on fresh
// ones).

import { BufWriter } from "../../bufio/mod.ts";
import type { Conn } from "../../mod.ts";
import { bulk, connEndpoint, type Endpoint, pingPong, rawEndpoint } from "../_loopback.ts";
import {
  connUnbuffered,
  newMessage,
  rawBuffered,
  rawUnbuffered,
  receiveMessages,
  type Sender,
  stamp,
} from "../_messages.ts";
import {
  concurrentWriters,
  connSink,
  type FrameSink,
  type FrameSource,
  rawLockedSink,
  rawSink,
} from "../_writers.ts";
import { lines } from "../../_kit/child.ts";
import { pair, rawPair } from "../../_kit/loopback.ts";

/** One end of a loopback conn, raw Deno's or netconn's, as the workloads drive it. */
interface End {
  /** For bulk and pingpong. */
  endpoint: Endpoint;
  /** The receiver of messages and frames. */
  source: FrameSource;
  /** One write per message. */
  unbuffered: Sender;
  /** Sends messages through a `size`-byte buffer; `fast` skips the await where it can. */
  buffered(size: number, fast: boolean): Sender;
  /** Writes one frame whole, safe to call from `writers` tasks at once. */
  frameSink(writers: number): FrameSink;
}

const PING = 32;
const FRAME = 1024;

// ---- raw Deno ----

function rawEnd(conn: Deno.TcpConn): End {
  conn.setNoDelay(true);
  return {
    endpoint: rawEndpoint(conn),
    source: conn,
    unbuffered: rawUnbuffered(conn),
    buffered: (size) => rawBuffered(conn, size),
    frameSink: (writers) => writers === 1 ? rawSink(conn) : rawLockedSink(conn),
  };
}

/** A fresh raw loopback pair's two ends; closing them closes the pair. */
async function rawEnds(): Promise<Ends> {
  const p = await rawPair();
  return { client: rawEnd(p.client), server: rawEnd(p.server), close: () => p[Symbol.dispose]() };
}

// ---- netconn ----

function connEnd(conn: Conn): End {
  return {
    endpoint: connEndpoint(conn),
    source: conn,
    unbuffered: connUnbuffered(conn),
    buffered(size, fast) {
      const bw = new BufWriter(conn, size);
      const msg = newMessage();
      return async (count) => {
        for (let m = 0; m < count; m++) {
          stamp(msg, m);
          if (!fast || !bw.tryWrite(msg)) await bw.write(msg);
        }
        await bw.flush();
      };
    },
    frameSink: () => connSink(conn),
  };
}

/** A fresh netconn loopback pair's two ends; closing them closes the pair. */
async function connEnds(): Promise<Ends> {
  const p = await pair();
  return {
    client: connEnd(p.client),
    server: connEnd(p.server),
    close: () => p[Symbol.asyncDispose](),
  };
}

/** Both ends of a fresh loopback pair. */
interface Ends {
  client: End;
  server: End;
  close(): void | PromiseLike<void>;
}

/** Sends `count` messages with `send` while `to` checks them. */
async function messages(send: Sender, to: End, count: number): Promise<void> {
  // receiveMessages only reads; it is typed for the raw conns of message_bench.ts.
  await Promise.all([send(count), receiveMessages(to.source as Deno.Conn, count)]);
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
    return () => messages(send, server, BUFFERED);
  };
  const framed = (writers: number) => (client: End, server: End) => {
    const sink = client.frameSink(writers);
    const options = { writers, frames: FRAMES, size: FRAME };
    return () => concurrentWriters(sink, server.source, options);
  };
  return [
    {
      name: "bulk",
      unit: "MiB/s",
      work: BULK_MIB,
      prepare: (c, s) => () => bulk(c.endpoint, s.endpoint, BULK_MIB * 1024 * 1024),
    },
    {
      name: "pingpong",
      unit: "round trips/s",
      work: ROUNDS,
      prepare: (c, s) => () => pingPong(c.endpoint, s.endpoint, { rounds: ROUNDS, size: PING }),
    },
    {
      name: "msg",
      unit: "msgs/s",
      work: MESSAGES,
      prepare: (c, s) => () => messages(c.unbuffered, s, MESSAGES),
    },
    { name: "msg-buf", unit: "msgs/s", work: BUFFERED, prepare: buffered(false) },
    { name: "msg-buf-fast", unit: "msgs/s", work: BUFFERED, prepare: buffered(true) },
    { name: "frames-1", unit: "frames/s", work: FRAMES, prepare: framed(1) },
    { name: "frames-8", unit: "frames/s", work: FRAMES, prepare: framed(8) },
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
  const newEnds = impl === "raw" ? rawEnds : connEnds;
  const byName = new Map(workloads().map((w) => [w.name, w]));
  reply({ peer: impl === "raw" ? "deno-raw" : "netconn", runtime: `deno ${Deno.version.deno}` });
  for await (const line of lines(Deno.stdin.readable)) {
    if (line.trim() === "") continue;
    const req = JSON.parse(line) as { workload: string; ms: number; buffer: number };
    const w = byName.get(req.workload);
    if (w === undefined) throw new RangeError(`Unknown workload "${req.workload}"`);
    const ends = await newEnds();
    try {
      const rate = await slice(w.prepare(ends.client, ends.server, req.buffer), w.work, req.ms);
      reply({ workload: w.name, unit: w.unit, rate });
    } finally {
      await ends.close();
    }
  }
}

if (import.meta.main) await main();
