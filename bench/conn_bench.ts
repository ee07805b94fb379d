// netconn against raw Deno.Conn on loopback, in the same groups:
//
//   deno bench --allow-net bench/conn_bench.ts
//
// - bulk: 16 MiB per iteration in 64 KiB writes, read into a 64 KiB buffer,
//   and 32 MiB in 1 MiB writes, read into a 1 MiB buffer;
// - ping-pong: 1000 round trips of a 32-byte message per iteration;
// each as raw Deno.Conn (the baseline; writes loop until every byte is out,
// as raw callers must), netconn, netconn with read and write deadlines armed
// an hour ahead on both ends (armed, never fires), and for ping-pong netconn
// with each deadline moved before every read and write, as Go servers do.
// For bulk, a raw variant that copies as netconn must (each write into a
// buffer of its own, each read out of one) shows the floor of that design.
// Every iteration checks what it received. After the run a summary prints
// bytes/s and round trips/s with the ratio to raw.

import {
  bothEnds,
  bulk,
  connEndpoint,
  type Endpoint,
  type Pair,
  pingPong,
  rawCopyEndpoint,
  rawEndpoint,
  wrapPair,
} from "./_loopback.ts";
import { rawPair } from "../_kit/loopback.ts";

const BULK_BYTES = 16 * 1024 * 1024;
const BIG_BULK_BYTES = 32 * 1024 * 1024;
const MIB = 1024 * 1024;
const ROUNDS = 1000;
const MSG = 32;
const HOUR = 3_600_000;

// One loopback pair for the whole file, closed when it ends. Every variant
// drives these same two sockets (the netconn ones through Conns wrapping
// them), so no variant gains or loses by its socket's kernel state. Between
// iterations the stream is idle and every Conn's read buffer empty, so the
// wrappers never see each other's bytes.
const raw = await rawPair({ noDelay: true });
const plain = wrapPair(raw);
const armed = wrapPair(raw);
const moving = wrapPair(raw);
armed.client.setDeadline(Date.now() + HOUR);
armed.server.setDeadline(Date.now() + HOUR);

const variants: {
  name: string;
  pair: Pair<Endpoint>;
  baseline?: boolean;
  bulk: boolean;
  pingPong?: boolean;
}[] = [
  {
    name: "raw Deno.Conn",
    baseline: true,
    bulk: true,
    pair: bothEnds(raw, rawEndpoint),
  },
  {
    name: "netconn",
    bulk: true,
    pair: bothEnds(plain, (c) => connEndpoint(c)),
  },
  {
    name: "netconn, deadlines armed",
    bulk: true,
    pair: bothEnds(armed, (c) => connEndpoint(c)),
  },
  {
    name: "netconn, deadline moved every op",
    bulk: false,
    pair: bothEnds(moving, (c) => connEndpoint(c, 30_000)),
  },
  {
    name: "raw + netconn's two copies (its floor)",
    bulk: true,
    pingPong: false,
    pair: bothEnds(raw, rawCopyEndpoint),
  },
];

/** Work done and time spent per bench, for the summary (warmup included). */
const tally = new Map<string, { work: number; ms: number; unit: string }>();

function count(key: string, unit: string, work: number, start: number): void {
  const t = tally.get(key) ?? { work: 0, ms: 0, unit };
  t.work += work;
  t.ms += performance.now() - start;
  tally.set(key, t);
}

/** What {@linkcode benchEach} registers: a workload, and how its rate is tallied. */
interface Bench {
  /** The variants that run it. */
  which: (v: typeof variants[number]) => boolean;
  n: number;
  warmup: number;
  /** The summary's name for the workload. */
  key: string;
  unit: string;
  /** Work done by one run, in `unit`s. */
  work: number;
  run: (pair: Pair<Endpoint>) => Promise<void>;
}

/** Registers `bench` for each variant it names, in `group`, tallying each run. */
function benchEach(group: string, bench: Bench): void {
  for (const v of variants.filter(bench.which)) {
    Deno.bench({
      name: v.name,
      group,
      baseline: v.baseline ?? false,
      n: bench.n,
      warmup: bench.warmup,
      async fn() {
        const start = performance.now();
        await bench.run(v.pair);
        count(`${bench.key} | ${v.name}`, bench.unit, bench.work, start);
      },
    });
  }
}

benchEach("bulk 64 KiB writes, 16 MiB", {
  which: (v) => v.bulk,
  n: 60,
  warmup: 10,
  key: "bulk",
  unit: "MiB/s",
  work: BULK_BYTES / MIB,
  run: (pair) => bulk(pair.client, pair.server, BULK_BYTES),
});

benchEach("bulk 1 MiB writes, 32 MiB", {
  which: (v) => v.bulk,
  n: 30,
  warmup: 5,
  key: "bulk 1 MiB",
  unit: "MiB/s",
  work: BIG_BULK_BYTES / MIB,
  run: (pair) => bulk(pair.client, pair.server, BIG_BULK_BYTES, { writeSize: MIB, readSize: MIB }),
});

benchEach("ping-pong 32 B, 1000 round trips", {
  which: (v) => v.pingPong ?? true,
  n: 40,
  warmup: 5,
  key: "ping-pong",
  unit: "round trips/s",
  work: ROUNDS,
  run: (pair) => pingPong(pair.client, pair.server, { rounds: ROUNDS, size: MSG }),
});

function summary(): string {
  const lines: string[] = [];
  for (const [key, t] of tally) {
    const rate = t.work / (t.ms / 1000);
    const base = tally.get(`${key.split(" | ")[0]} | ${variants[0]!.name}`);
    const ratio = base === undefined
      ? ""
      : ` (${(rate / (base.work / (base.ms / 1000))).toFixed(3)}x raw)`;
    lines.push(`${key}: ${Math.round(rate).toLocaleString("en-US")} ${t.unit}${ratio}`);
  }
  return lines.join("\n");
}

globalThis.addEventListener("unload", () => {
  if (tally.size > 0) console.log(`\n${summary()}`);
  raw[Symbol.dispose]();
});
