// Small messages over a real loopback conn, netconn against raw Deno in the
// same groups:
//
//   deno bench --allow-net bench/message_bench.ts
//
// - write: 20 000 messages of 64 bytes per iteration, sent one write per
//   message (raw and netconn), through netconn's BufWriter (64 KiB; the
//   `tryWrite` fast path, and awaiting `write` every time), or copied into a
//   hand-rolled 64 KiB buffer flushed with a raw writeAll loop (the baseline).
//   A raw reader on the other end checks every message's sequence number.
// - read: 100 000 lines of 64 bytes ("\n" included) or frames of 64 bytes
//   (4-byte length + 60), sent by raw Deno in 64 KiB writes, read with a
//   hand-rolled parser on the raw conn (the baseline), or with BufReader
//   `readLine` / FrameReader `readFrame` (64 KiB buffers) on a netconn Conn
//   and, to tell bufio's cost from the conn's, on the raw conn.
// Every line and frame is checked (length, sequence number, bytes).

import {
  bufReaderLines,
  buildFrames,
  buildLines,
  connBufWriter,
  connBufWriterAwait,
  connUnbuffered,
  frameReaderFrames,
  rawBuffered,
  rawFrames,
  rawLines,
  rawUnbuffered,
  readMessages,
  type Receiver,
  type Sender,
  writeMessages,
} from "./_messages.ts";
import { wrapPair } from "./_loopback.ts";
import { rawPair } from "../_kit/loopback.ts";

const WRITTEN = 20_000;
const READ = 100_000;

const raw = await rawPair({ noDelay: true });
const conns = wrapPair(raw);

const senders: { name: string; send: Sender; baseline?: boolean; n: number }[] = [
  { name: "raw: hand-rolled 64 KiB buffer", send: rawBuffered(raw.client), baseline: true, n: 100 },
  { name: "netconn: BufWriter 64 KiB, tryWrite", send: connBufWriter(conns.client), n: 100 },
  { name: "netconn: BufWriter 64 KiB, await write", send: connBufWriterAwait(conns.client), n: 60 },
  { name: "raw: one write per message", send: rawUnbuffered(raw.client), n: 10 },
  { name: "netconn: one conn.write per message", send: connUnbuffered(conns.client), n: 10 },
];

for (const s of senders) {
  Deno.bench({
    name: s.name,
    group: "write 64-byte messages, 20 000",
    baseline: s.baseline ?? false,
    n: s.n,
    warmup: Math.max(2, s.n / 10),
    async fn() {
      await writeMessages(s.send, raw.server, WRITTEN);
    },
  });
}

const lines = buildLines(READ);
const frames = buildFrames(READ);

const readers: {
  group: string;
  name: string;
  receive: Receiver;
  data: Uint8Array;
  baseline?: boolean;
}[] = [
  {
    group: "read 64-byte lines, 100 000",
    name: "raw: hand-rolled line splitter",
    receive: rawLines(raw.server),
    data: lines,
    baseline: true,
  },
  {
    group: "read 64-byte lines, 100 000",
    name: "netconn: BufReader.readLine on Conn",
    receive: bufReaderLines(conns.server),
    data: lines,
  },
  {
    group: "read 64-byte lines, 100 000",
    name: "BufReader.readLine on raw Deno.Conn",
    receive: bufReaderLines(raw.server),
    data: lines,
  },
  {
    group: "read 64-byte frames, 100 000",
    name: "raw: hand-rolled frame parser",
    receive: rawFrames(raw.server),
    data: frames,
    baseline: true,
  },
  {
    group: "read 64-byte frames, 100 000",
    name: "netconn: FrameReader.readFrame on Conn",
    receive: frameReaderFrames(conns.server),
    data: frames,
  },
  {
    group: "read 64-byte frames, 100 000",
    name: "FrameReader.readFrame on raw Deno.Conn",
    receive: frameReaderFrames(raw.server),
    data: frames,
  },
];

for (const r of readers) {
  Deno.bench({
    name: r.name,
    group: r.group,
    baseline: r.baseline ?? false,
    n: 40,
    warmup: 5,
    async fn() {
      await readMessages(r.receive, raw.client, r.data, READ);
    },
  });
}

globalThis.addEventListener("unload", () => {
  raw[Symbol.dispose]();
});
