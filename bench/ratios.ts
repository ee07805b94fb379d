// Every speed goal as a ratio to raw Deno, measured so that noise cancels
// out, in one table (goals that differ with and without --allow-ffi follow
// the run's permission):
//
//   deno run --allow-net --allow-ffi bench/ratios.ts [--rounds=21] [--only=TEXT] [--json]
//     [--write-docs]
//
// `deno bench` runs each variant's iterations back to back, so a burst of
// load from another process lands on one variant only; on a small shared
// machine its ratios swing by 20%. Here each round runs every variant of a
// group for a short slice, in alternating order, and a ratio is taken
// within the round; the table shows the median over the rounds and the
// spread of the middle half (25th–75th percentile). Every slice checks what
// it received, as the benches do. --only runs the groups whose name contains
// TEXT; --json prints the rows as JSON; --write-docs also writes the table,
// each variant's rate and the machine to docs/measured/bench.md (it needs
// --allow-read --allow-write --allow-run as well: naming the CPU reads
// /proc/cpuinfo through `cat`).

import {
  bothEnds,
  bulk,
  connEndpoint,
  type Endpoint,
  type Pair,
  pingPong,
  rawCopyEndpoint,
  rawEndpoint,
  streamEndpoint,
  wrapPair,
} from "./_loopback.ts";
import { rawPair } from "../_kit/loopback.ts";
import {
  bufReaderLines,
  buildFrames,
  buildLines,
  connBufWriter,
  connBufWriterAwait,
  frameReaderFrames,
  rawBuffered,
  rawFrames,
  rawLines,
  readMessages,
  type Receiver,
  type Sender,
  writeMessages,
} from "./_messages.ts";
import { concurrentWriters, connSink, type FrameSink, rawLockedSink, rawSink } from "./_writers.ts";
import {
  acceptAll,
  AcceptAndClose,
  type AcceptSide,
  closeBacklog,
  connDial,
  connListener,
  dialClose,
  type Dialer,
  fillBacklog,
  rawDial,
  rawListener,
} from "./_dial.ts";
import { machine, writeMeasured } from "../_kit/measured.ts";
import { quantile } from "../_kit/stats.ts";
import { markdownTable } from "../_kit/table.ts";

/** One variant's slice: runs a little work, returns how much and the ms it timed. */
type Slice = () => Promise<{ work: number; ms: number }>;

interface Group {
  name: string;
  unit: string;
  variants: [string, Slice][];
}

/** A row of the table: `subject` over `base` in `group`, against an optional goal. */
interface Ratio {
  measure: string;
  group: string;
  subject: string;
  base: string;
  /** The goal: the ratio must be at least this. */
  goal?: number;
}

const MIB = 1024 * 1024;
const HOUR = 3_600_000;

/** A slice timed from start to end. */
function timed(work: number, run: () => Promise<void>): Slice {
  return async () => {
    const start = performance.now();
    await run();
    return { work, ms: performance.now() - start };
  };
}

function repeat(times: number, run: () => Promise<void>): () => Promise<void> {
  return async () => {
    for (let i = 0; i < times; i++) await run();
  };
}

async function buildGroups(): Promise<{ groups: Group[]; close(): Promise<void> }> {
  const raw = await rawPair({ noDelay: true });
  const plain = wrapPair(raw);
  const armed = wrapPair(raw);
  const moving = wrapPair(raw);
  const streams = wrapPair(raw);
  armed.client.setDeadline(Date.now() + HOUR);
  armed.server.setDeadline(Date.now() + HOUR);
  const ends: Record<string, Pair<Endpoint>> = {
    raw: bothEnds(raw, rawEndpoint),
    copy: bothEnds(raw, rawCopyEndpoint),
    plain: bothEnds(plain, (c) => connEndpoint(c)),
    armed: bothEnds(armed, (c) => connEndpoint(c)),
    moving: bothEnds(moving, (c) => connEndpoint(c, 30_000)),
  };
  const denoStreams = bothEnds(raw, streamEndpoint);
  const ourStreams = bothEnds(streams, streamEndpoint);

  const bulkSlice = (pair: Pair<Endpoint>, times: number, total: number, size: number): Slice =>
    timed(
      (times * total) / MIB,
      repeat(
        times,
        () => bulk(pair.client, pair.server, total, { writeSize: size, readSize: size }),
      ),
    );
  const pingSlice = (pair: Pair<Endpoint>): Slice =>
    timed(2000, repeat(2, () => pingPong(pair.client, pair.server, { rounds: 1000, size: 32 })));

  const WRITTEN = 20_000;
  const sendSlice = (send: Sender): Slice =>
    timed(2 * WRITTEN, repeat(2, () => writeMessages(send, raw.server, WRITTEN)));
  const READ = 50_000;
  const lines = buildLines(READ);
  const frames = buildFrames(READ);
  const readSlice = (receive: Receiver, data: Uint8Array): Slice =>
    timed(READ, () => readMessages(receive, raw.client, data, READ));

  const writersSlice = (sink: FrameSink, writers: number, size: number, frames: number): Slice =>
    timed(frames, () => concurrentWriters(sink, raw.server, { writers, frames, size }));

  const server = new AcceptAndClose();
  const dialSlice = (dialer: Dialer): Slice => timed(100, () => dialClose(dialer, server, 100));
  const sides: AcceptSide[] = [rawListener(), connListener()];
  const acceptSlice = (side: AcceptSide): Slice => async () => {
    const backlog = await fillBacklog(side.port, 100);
    try {
      const start = performance.now();
      await acceptAll(side, backlog);
      return { work: 100, ms: performance.now() - start };
    } finally {
      closeBacklog(backlog);
    }
  };

  const groups: Group[] = [
    {
      name: "bulk 64 KiB writes",
      unit: "MiB/s",
      variants: [
        ["raw", bulkSlice(ends.raw!, 4, 16 * MIB, 64 * 1024)],
        ["netconn", bulkSlice(ends.plain!, 4, 16 * MIB, 64 * 1024)],
        ["netconn, deadlines armed", bulkSlice(ends.armed!, 4, 16 * MIB, 64 * 1024)],
        ["raw + netconn's two copies", bulkSlice(ends.copy!, 4, 16 * MIB, 64 * 1024)],
      ],
    },
    {
      name: "bulk 1 MiB writes",
      unit: "MiB/s",
      variants: [
        ["raw", bulkSlice(ends.raw!, 2, 32 * MIB, MIB)],
        ["netconn", bulkSlice(ends.plain!, 2, 32 * MIB, MIB)],
        ["netconn, deadlines armed", bulkSlice(ends.armed!, 2, 32 * MIB, MIB)],
        ["raw + netconn's two copies", bulkSlice(ends.copy!, 2, 32 * MIB, MIB)],
      ],
    },
    {
      name: "ping-pong 32 B",
      unit: "round trips/s",
      variants: [
        ["raw", pingSlice(ends.raw!)],
        ["netconn", pingSlice(ends.plain!)],
        ["netconn, deadlines armed", pingSlice(ends.armed!)],
        ["netconn, deadline moved every op", pingSlice(ends.moving!)],
      ],
    },
    {
      name: "streams bulk 64 KiB",
      unit: "MiB/s",
      variants: [
        ["Deno conn.readable/writable", bulkSlice(denoStreams, 4, 16 * MIB, 64 * 1024)],
        ["netconn conn.readable/writable", bulkSlice(ourStreams, 4, 16 * MIB, 64 * 1024)],
      ],
    },
    {
      name: "streams ping-pong 32 B",
      unit: "round trips/s",
      variants: [
        ["Deno conn.readable/writable", pingSlice(denoStreams)],
        ["netconn conn.readable/writable", pingSlice(ourStreams)],
      ],
    },
    {
      name: "write 64-byte messages",
      unit: "messages/s",
      variants: [
        ["raw hand-rolled 64 KiB buffer", sendSlice(rawBuffered(raw.client))],
        ["BufWriter 64 KiB, tryWrite", sendSlice(connBufWriter(plain.client))],
        ["BufWriter 64 KiB, await write", sendSlice(connBufWriterAwait(plain.client))],
      ],
    },
    {
      name: "read 64-byte lines",
      unit: "lines/s",
      variants: [
        ["raw hand-rolled splitter", readSlice(rawLines(raw.server), lines)],
        ["BufReader.readLine on Conn", readSlice(bufReaderLines(plain.server), lines)],
      ],
    },
    {
      name: "read 64-byte frames",
      unit: "frames/s",
      variants: [
        ["raw hand-rolled parser", readSlice(rawFrames(raw.server), frames)],
        ["FrameReader.readFrame on Conn", readSlice(frameReaderFrames(plain.server), frames)],
      ],
    },
    {
      name: "writers, 1 KiB frames",
      unit: "frames/s",
      variants: [
        ["raw, 1 writer", writersSlice(rawSink(raw.client), 1, 1024, 4096)],
        ["raw + lock, 8 writers", writersSlice(rawLockedSink(raw.client), 8, 1024, 4096)],
        ["netconn, 1 writer", writersSlice(connSink(plain.client), 1, 1024, 4096)],
        ["netconn, 8 writers", writersSlice(connSink(plain.client), 8, 1024, 4096)],
        ["netconn, 64 writers", writersSlice(connSink(plain.client), 64, 1024, 4096)],
      ],
    },
    {
      name: "writers, 64 B frames",
      unit: "frames/s",
      variants: [
        ["netconn, 1 writer", writersSlice(connSink(plain.client), 1, 64, 4096)],
        ["netconn, 8 writers", writersSlice(connSink(plain.client), 8, 64, 4096)],
      ],
    },
    {
      name: "dial + close",
      unit: "conns/s",
      variants: [["raw Deno.connect", dialSlice(rawDial)], ["netconn dial", dialSlice(connDial)]],
    },
    {
      name: "accept",
      unit: "conns/s",
      variants: [["raw Deno.listen", acceptSlice(sides[0]!)], [
        "netconn listen",
        acceptSlice(sides[1]!),
      ]],
    },
  ];
  return {
    groups,
    async close() {
      for (const s of [denoStreams, ourStreams]) {
        s.client.release();
        s.server.release();
      }
      for (const side of sides) side.close();
      await server.close();
      raw[Symbol.dispose]();
    },
  };
}

/** Whether this run has kernel-first I/O: some goals are higher with it. */
const FFI = Deno.permissions.querySync({ name: "ffi" }).state === "granted";

const RATIOS: Ratio[] = [
  {
    measure: "bulk 64 KiB, deadline armed ÷ raw",
    group: "bulk 64 KiB writes",
    subject: "netconn, deadlines armed",
    base: "raw",
    goal: 0.95,
  },
  {
    measure: "bulk 1 MiB, deadline armed ÷ raw",
    group: "bulk 1 MiB writes",
    subject: "netconn, deadlines armed",
    base: "raw",
    goal: 0.9,
  },
  {
    measure: "bulk 64 KiB, netconn ÷ raw",
    group: "bulk 64 KiB writes",
    subject: "netconn",
    base: "raw",
    goal: FFI ? 1.0 : 0.95,
  },
  {
    measure: "bulk 64 KiB, raw + two copies ÷ raw (design floor)",
    group: "bulk 64 KiB writes",
    subject: "raw + netconn's two copies",
    base: "raw",
  },
  {
    measure: "bulk 1 MiB, raw + two copies ÷ raw (design floor)",
    group: "bulk 1 MiB writes",
    subject: "raw + netconn's two copies",
    base: "raw",
  },
  {
    measure: "ping-pong, netconn ÷ raw",
    group: "ping-pong 32 B",
    subject: "netconn",
    base: "raw",
    goal: FFI ? 1.0 : 0.97,
  },
  {
    measure: "ping-pong, deadline armed ÷ raw",
    group: "ping-pong 32 B",
    subject: "netconn, deadlines armed",
    base: "raw",
    goal: 0.95,
  },
  {
    measure: "ping-pong, deadline moved every op ÷ raw",
    group: "ping-pong 32 B",
    subject: "netconn, deadline moved every op",
    base: "raw",
  },
  {
    measure: "armed idle deadline, bulk 64 KiB: armed ÷ off",
    group: "bulk 64 KiB writes",
    subject: "netconn, deadlines armed",
    base: "netconn",
    goal: 0.97,
  },
  {
    measure: "armed idle deadline, ping-pong: armed ÷ off",
    group: "ping-pong 32 B",
    subject: "netconn, deadlines armed",
    base: "netconn",
    goal: 0.97,
  },
  {
    measure: "streams bulk: netconn ÷ Deno's",
    group: "streams bulk 64 KiB",
    subject: "netconn conn.readable/writable",
    base: "Deno conn.readable/writable",
    goal: 1.5,
  },
  {
    measure: "streams ping-pong: netconn ÷ Deno's",
    group: "streams ping-pong 32 B",
    subject: "netconn conn.readable/writable",
    base: "Deno conn.readable/writable",
    goal: 1.5,
  },
  {
    measure: "64 B messages: BufWriter tryWrite ÷ hand-rolled",
    group: "write 64-byte messages",
    subject: "BufWriter 64 KiB, tryWrite",
    base: "raw hand-rolled 64 KiB buffer",
  },
  {
    measure: "64 B messages: BufWriter await write ÷ hand-rolled",
    group: "write 64-byte messages",
    subject: "BufWriter 64 KiB, await write",
    base: "raw hand-rolled 64 KiB buffer",
    goal: 0.7,
  },
  {
    measure: "64 B lines: BufReader.readLine on Conn ÷ hand-rolled",
    group: "read 64-byte lines",
    subject: "BufReader.readLine on Conn",
    base: "raw hand-rolled splitter",
  },
  {
    measure: "64 B frames: FrameReader on Conn ÷ hand-rolled",
    group: "read 64-byte frames",
    subject: "FrameReader.readFrame on Conn",
    base: "raw hand-rolled parser",
  },
  {
    measure: "1 KiB frames: netconn 8 writers ÷ 1 writer",
    group: "writers, 1 KiB frames",
    subject: "netconn, 8 writers",
    base: "netconn, 1 writer",
    goal: 0.9,
  },
  {
    measure: "1 KiB frames: netconn 64 writers ÷ 1 writer",
    group: "writers, 1 KiB frames",
    subject: "netconn, 64 writers",
    base: "netconn, 1 writer",
  },
  {
    measure: "1 KiB frames: netconn 8 writers ÷ raw + lock",
    group: "writers, 1 KiB frames",
    subject: "netconn, 8 writers",
    base: "raw + lock, 8 writers",
  },
  {
    measure: "1 KiB frames: raw + lock 8 writers ÷ raw 1 writer",
    group: "writers, 1 KiB frames",
    subject: "raw + lock, 8 writers",
    base: "raw, 1 writer",
  },
  {
    measure: "64 B frames: netconn 8 writers ÷ 1 writer",
    group: "writers, 64 B frames",
    subject: "netconn, 8 writers",
    base: "netconn, 1 writer",
    goal: 0.9,
  },
  {
    measure: "dial + close: netconn ÷ raw",
    group: "dial + close",
    subject: "netconn dial",
    base: "raw Deno.connect",
    goal: FFI ? 0.75 : 0.85,
  },
  {
    measure: "accept: netconn ÷ raw",
    group: "accept",
    subject: "netconn listen",
    base: "raw Deno.listen",
    goal: 0.85,
  },
];

/** Runs `rounds` interleaved rounds of `group`; returns each variant's per-round rates. */
async function runGroup(group: Group, rounds: number): Promise<Map<string, number[]>> {
  for (const [, slice] of group.variants) await slice(); // warm up
  const rates = new Map<string, number[]>(group.variants.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = group.variants.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      const [name, slice] = group.variants[i]!;
      const { work, ms } = await slice();
      rates.get(name)!.push(work / (ms / 1000));
    }
  }
  return rates;
}

interface Row {
  measure: string;
  ratio: number;
  p25: number;
  p75: number;
  goal: number | null;
  met: boolean | null;
}

async function main(): Promise<void> {
  const arg = (name: string): string | undefined =>
    Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const rounds = Number(arg("rounds") ?? 21);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`Invalid --rounds "${arg("rounds")}": want an integer >= 1`);
    Deno.exit(2);
  }
  const only = arg("only") ?? "";
  const json = Deno.args.includes("--json");
  const writeDocs = Deno.args.includes("--write-docs");
  const { groups, close } = await buildGroups();
  const results = new Map<string, Map<string, number[]>>();
  try {
    for (const group of groups.filter((g) => g.name.includes(only))) {
      if (!json) console.error(`${group.name} (${rounds} rounds)...`);
      const rates = await runGroup(group, rounds);
      results.set(group.name, rates);
      if (!json) {
        for (const [name, xs] of rates) {
          const rate = Math.round(quantile(xs, 0.5)).toLocaleString("en-US");
          console.error(`  ${name.padEnd(36)} ${rate.padStart(10)} ${group.unit}`);
        }
      }
    }
  } finally {
    await close();
  }
  const rows: Row[] = [];
  for (const r of RATIOS) {
    const rates = results.get(r.group);
    if (rates === undefined) continue;
    const base = rates.get(r.base)!;
    const per = rates.get(r.subject)!.map((x, i) => x / base[i]!);
    const ratio = quantile(per, 0.5);
    rows.push({
      measure: r.measure,
      ratio,
      p25: quantile(per, 0.25),
      p75: quantile(per, 0.75),
      goal: r.goal ?? null,
      met: r.goal === undefined ? null : ratio >= r.goal,
    });
  }
  if (json) {
    const rates = Object.fromEntries(
      [...results].map((
        [g, m],
      ) => [g, Object.fromEntries([...m].map(([v, xs]) => [v, quantile(xs, 0.5)]))]),
    );
    console.log(JSON.stringify({ rounds, rows, rates }, null, 2));
    return;
  }
  const table = ratioTable(rows);
  console.log(`\n${table}`);
  if (writeDocs) {
    const path = await writeBenchDocs(table, results, groups, rounds, only);
    console.error(`wrote ${path}`);
  }
}

/** The rows as the Markdown table printed and written. */
function ratioTable(rows: Row[]): string {
  const head = ["measure", "ratio (median)", "middle half", "goal", "met"];
  const body = rows.map((row) => [
    row.measure,
    row.ratio.toFixed(2),
    `${row.p25.toFixed(2)}–${row.p75.toFixed(2)}`,
    row.goal === null ? "" : `≥ ${row.goal.toFixed(2)}`,
    row.met === null ? "" : row.met ? "yes" : "no",
  ]);
  return markdownTable(head, body, ["left", "right", "right", "right", "left"]);
}

/**
 * Writes the ratios, each variant's median rate and the machine to
 * docs/measured/bench.md.
 *
 * @returns The path written.
 */
function writeBenchDocs(
  table: string,
  results: Map<string, Map<string, number[]>>,
  groups: Group[],
  rounds: number,
  only: string,
): Promise<string> {
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  const units = new Map(groups.map((g) => [g.name, g.unit]));
  const rates = [...results].flatMap(([group, m]) =>
    [...m].map(([variant, xs]) => [
      group,
      variant,
      Math.round(quantile(xs, 0.5)).toLocaleString("en-US"),
      units.get(group) ?? "",
    ])
  );
  const flags = [`--rounds=${rounds}`, ...(only === "" ? [] : [`--only=${only}`])];
  const body = [
    `Ratios to raw Deno (or to the variant named after ÷) within each round, ${rounds} ` +
    `rounds per group, ${ffi ? "with" : "without"} \`--allow-ffi\`: the median, and the ` +
    "spread of the middle half (25th–75th percentile).",
    table,
    "Each variant's median rate:",
    markdownTable(["group", "variant", "rate", "unit"], rates, ["left", "left", "right", "left"]),
  ];
  const permissions = `--allow-net ${
    ffi ? "--allow-ffi " : ""
  }--allow-read --allow-write --allow-run`;
  return writeMeasured("bench.md", {
    title: "The bench: netconn's speed as ratios to raw Deno",
    command: `deno run ${permissions} bench/ratios.ts ${flags.join(" ")} --write-docs`,
    machine: machine(),
    body: body.join("\n\n"),
  });
}

if (import.meta.main) await main();
