// The ratios of bench/conn_bench.ts, measured so that noise cancels out:
//
//   deno run --allow-net bench/conn_ratio.ts [--rounds=15]
//
// `deno bench` runs each variant's iterations back to back, so a burst of
// load from another process lands on one variant only; on a small shared
// machine its ratios move by 20% from run to run. Here every round runs each
// variant for a short slice (bulk: 8 x 16 MiB; ping-pong: 4 x 1000 round
// trips), in alternating order, and the ratio to raw is taken within the
// round. It prints the median rate and the median per-round ratio.

import {
  bulk,
  connEndpoint,
  type Endpoint,
  type Pair,
  pingPong,
  rawEndpoint,
  rawPair,
  wrapPair,
} from "./_loopback.ts";

interface Workload {
  name: string;
  unit: string;
  /** Runs one slice on `pair`; returns the work done (MiB or round trips). */
  slice(pair: Pair<Endpoint>): Promise<number>;
}

const workloads: Workload[] = [
  {
    name: "bulk 64 KiB writes",
    unit: "MiB/s",
    async slice(pair) {
      for (let i = 0; i < 8; i++) await bulk(pair.client, pair.server, 16 * 1024 * 1024);
      return 8 * 16;
    },
  },
  {
    name: "ping-pong 32 B",
    unit: "round trips/s",
    async slice(pair) {
      for (let i = 0; i < 4; i++) {
        await pingPong(pair.client, pair.server, { rounds: 1000, size: 32 });
      }
      return 4 * 1000;
    },
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function main(rounds: number): Promise<void> {
  const raw = await rawPair();
  const plain = wrapPair(raw);
  const armed = wrapPair(raw);
  const moving = wrapPair(raw);
  armed.client.setDeadline(Date.now() + 3_600_000);
  armed.server.setDeadline(Date.now() + 3_600_000);
  const variants: [string, Pair<Endpoint>][] = [
    ["raw Deno.Conn", { client: rawEndpoint(raw.client), server: rawEndpoint(raw.server) }],
    ["netconn", { client: connEndpoint(plain.client), server: connEndpoint(plain.server) }],
    ["netconn, deadlines armed", {
      client: connEndpoint(armed.client),
      server: connEndpoint(armed.server),
    }],
    ["netconn, deadline moved every op", {
      client: connEndpoint(moving.client, 30_000),
      server: connEndpoint(moving.server, 30_000),
    }],
  ];
  try {
    for (const work of workloads) {
      for (const [, pair] of variants) await work.slice(pair); // warm up
      const rates = variants.map((): number[] => []);
      for (let r = 0; r < rounds; r++) {
        const order = variants.map((_, i) => i);
        if (r % 2 === 1) order.reverse();
        for (const i of order) {
          const start = performance.now();
          const done = await work.slice(variants[i]![1]);
          rates[i]!.push(done / ((performance.now() - start) / 1000));
        }
      }
      console.log(`${work.name} (${rounds} rounds)`);
      for (const [i, [name]] of variants.entries()) {
        const rate = Math.round(median(rates[i]!)).toLocaleString("en-US");
        const ratio = median(rates[i]!.map((x, r) => x / rates[0]![r]!)).toFixed(3);
        console.log(`  ${name.padEnd(34)} ${rate.padStart(8)} ${work.unit}  ${ratio}x raw`);
      }
    }
  } finally {
    raw.client.close();
    raw.server.close();
  }
}

if (import.meta.main) {
  const arg = Deno.args.find((a) => a.startsWith("--rounds="));
  const rounds = arg === undefined ? 15 : Number(arg.slice("--rounds=".length));
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`Invalid --rounds "${arg}": want an integer >= 1`);
    Deno.exit(2);
  }
  await main(rounds);
}
