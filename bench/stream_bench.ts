// netconn's web streams against Deno's own, on one loopback pair:
//
//   deno bench --allow-net bench/stream_bench.ts
//
// - bulk: 16 MiB per iteration, each 64 KiB chunk one `writer.write`, read
//   with a default reader (`getReader()`, as `for await` and `pipeTo` do);
// - ping-pong: 1000 round trips of a 32-byte message, both ends on streams.
// The baseline is Deno's own `conn.readable` / `conn.writable`; netconn's
// `conn.readable` / `conn.writable` run on Conns wrapping the same sockets.
// For reference, each group also has the plain `read` / `write` calls of raw
// Deno and of netconn. Every iteration checks what it received. The goal:
// netconn's streams at least 1.5x Deno's own.

import {
  bothEnds,
  bulk,
  connEndpoint,
  type Endpoint,
  type Pair,
  pingPong,
  rawEndpoint,
  streamEndpoint,
  wrapPair,
} from "./_loopback.ts";
import { rawPair } from "../_kit/loopback.ts";

const BULK_BYTES = 16 * 1024 * 1024;
const ROUNDS = 1000;
const MSG = 32;

const raw = await rawPair({ noDelay: true });
const plain = wrapPair(raw);
const streams = wrapPair(raw);
const denoStreams = bothEnds(raw, streamEndpoint);
const ourStreams = bothEnds(streams, streamEndpoint);

const variants: { name: string; pair: Pair<Endpoint>; baseline?: boolean }[] = [
  { name: "Deno conn.readable/writable", baseline: true, pair: denoStreams },
  { name: "netconn conn.readable/writable", pair: ourStreams },
  {
    name: "raw Deno.Conn read/write (reference)",
    pair: bothEnds(raw, rawEndpoint),
  },
  {
    name: "netconn read/write (reference)",
    pair: bothEnds(plain, (c) => connEndpoint(c)),
  },
];

const benches: {
  group: string;
  n: number;
  warmup: number;
  run: (p: Pair<Endpoint>) => Promise<void>;
}[] = [
  {
    group: "streams: bulk 64 KiB chunks, 16 MiB",
    n: 40,
    warmup: 10,
    run: (p) => bulk(p.client, p.server, BULK_BYTES),
  },
  {
    group: "streams: ping-pong 32 B, 1000 round trips",
    n: 30,
    warmup: 5,
    run: (p) => pingPong(p.client, p.server, { rounds: ROUNDS, size: MSG }),
  },
];

for (const { group, n, warmup, run } of benches) {
  for (const v of variants) {
    Deno.bench({
      name: v.name,
      group,
      baseline: v.baseline ?? false,
      n,
      warmup,
      async fn() { // deno bench awaits only async functions
        await run(v.pair);
      },
    });
  }
}

globalThis.addEventListener("unload", () => {
  for (const side of [denoStreams, ourStreams]) {
    side.client.release();
    side.server.release();
  }
  raw[Symbol.dispose]();
});
