// Concurrent writers sharing one conn, netconn against raw Deno:
//
//   deno bench --allow-net bench/writers_bench.ts
//
// Each iteration sends 4096 frames of 1 KiB (4-byte length, writer id,
// sequence number, payload), one write per frame, from 1, 8 or 64 tasks at
// once, each task sending its share. A raw reader on the other end parses
// every frame and fails the iteration at the first torn or out-of-order
// one. netconn's writes are contiguous by contract; raw Deno's are not, so
// its shared baseline serialises writeAll loops with a hand-rolled
// promise-chain lock (its single writer needs no lock). The goal:
// 8 writers at least 0.9x one writer's throughput, zero corrupted frames.

import { wrapPair } from "./_loopback.ts";
import { rawPair } from "../_kit/loopback.ts";
import { concurrentWriters, connSink, type FrameSink, rawLockedSink, rawSink } from "./_writers.ts";

const FRAMES = 4096;
const SIZE = 1024;

const raw = await rawPair({ noDelay: true });
const conns = wrapPair(raw);

for (const writers of [1, 8, 64]) {
  const group = `${writers} writer${writers === 1 ? "" : "s"}, ${FRAMES} frames of 1 KiB`;
  const variants: { name: string; sink: FrameSink; baseline?: boolean }[] = [
    {
      name: writers === 1
        ? "raw Deno.Conn: writeAll"
        : "raw Deno.Conn: writeAll + promise-chain lock",
      sink: writers === 1 ? rawSink(raw.client) : rawLockedSink(raw.client),
      baseline: true,
    },
    { name: "netconn: conn.write", sink: connSink(conns.client) },
  ];
  for (const v of variants) {
    Deno.bench({
      name: v.name,
      group,
      baseline: v.baseline ?? false,
      n: 40,
      warmup: 5,
      async fn() {
        await concurrentWriters(v.sink, raw.server, { writers, frames: FRAMES, size: SIZE });
      },
    });
  }
}

globalThis.addEventListener("unload", () => {
  raw[Symbol.dispose]();
});
