// netconn beside its peers: raw Deno, netconn, Node's `net` and Go's `net` +
// `bufio`, each in its own process on this machine, each measuring itself
// over loopback (both ends in its own process), on the same workloads (see
// bench/compare/deno.ts). Not part of CI; the README's way to re-check the
// figures it claims.
//
//   deno run -A bench/compare/run.ts [--rounds=8] [--warmup=1] [--slice-ms=250]
//     [--buffer=4096] [--only=deno-raw,netconn,node,go] [--json]
//
// Go's peer (go/compare/) is built by the kit's buildGo, cached beside the
// probe's, when `go` is installed (`apt-get install -y golang-go` on Debian)
// and skipped, with a note, when it is not. Every peer runs the whole time, idle on its stdin between
// requests; each round asks every peer for one slice of each workload, in
// an order that rotates, so the slices compared sit a second apart and a
// burst of load from another process hits them alike. The table gives the
// median rate over the rounds, and the median of the per-round ratios to raw
// Deno (the first `--warmup` rounds are not counted).

import { JsonLinesChild, output } from "../../_kit/child.ts";
import { buildGo, isBuilt } from "../../_kit/go.ts";
import { machine, machineLine } from "../../_kit/measured.ts";
import { median } from "../../_kit/stats.ts";

interface Options {
  rounds: number;
  warmup: number;
  sliceMs: number;
  buffer: number;
  only: string[] | null;
  json: boolean;
}

interface Command {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
}

interface Peer {
  name: string;
  label: string;
  command?: Command;
  /** Why the peer does not run, when it does not. */
  skipped?: string;
  runtime?: string;
  /** Why it stopped, when it failed part-way. */
  failed?: string;
}

const WORKLOADS: { key: string; name: string; unit: string }[] = [
  { key: "bulk", name: "bulk, 64 KiB writes", unit: "MiB/s" },
  { key: "pingpong", name: "ping-pong, 32 B", unit: "round trips/s" },
  { key: "msg", name: "64 B messages, one write each", unit: "msgs/s" },
  { key: "msg-buf", name: "64 B messages, buffered", unit: "msgs/s" },
  { key: "msg-buf-fast", name: "64 B messages, buffered, fast path", unit: "msgs/s" },
  { key: "frames-1", name: "1 KiB frames, 1 writer", unit: "frames/s" },
  { key: "frames-8", name: "1 KiB frames, 8 concurrent writers", unit: "frames/s" },
];

const PEERS = ["deno-raw", "netconn", "node", "go"];

function parseOptions(args: string[]): Options {
  const o: Options = {
    rounds: 8,
    warmup: 1,
    sliceMs: 250,
    buffer: 4096,
    only: null,
    json: false,
  };
  for (const a of args) {
    const [key, value] = a.split("=", 2) as [string, string | undefined];
    const n = Number(value);
    const count = Number.isInteger(n) && n >= 1;
    if (key === "--json" && value === undefined) o.json = true;
    else if (key === "--rounds" && count) o.rounds = n;
    else if (key === "--warmup" && Number.isInteger(n) && n >= 0) o.warmup = n;
    else if (key === "--slice-ms" && count) o.sliceMs = n;
    else if (key === "--buffer" && count && n >= 64) o.buffer = n;
    else if (key === "--only" && value !== undefined) {
      o.only = value.split(",");
      const bad = o.only.find((p) => !PEERS.includes(p));
      if (bad !== undefined) {
        throw new RangeError(`Unknown peer "${bad}": want ${PEERS.join(", ")}`);
      }
    } else throw new RangeError(`Invalid option "${a}": see the usage at the top of this file`);
  }
  return o;
}

/** A command's version line, or null when it is missing or fails. */
async function version(cmd: string[]): Promise<string | null> {
  try {
    return (await output(cmd)).trim();
  } catch {
    return null;
  }
}

function here(path: string): string {
  return new URL(path, import.meta.url).pathname;
}

async function findPeers(o: Options): Promise<Peer[]> {
  const deno = (impl: string): Command => ({
    cmd: Deno.execPath(),
    args: ["run", "--allow-net", "--allow-ffi", here("./deno.ts"), `--impl=${impl}`],
  });
  const list: Peer[] = [
    { name: "deno-raw", label: "raw Deno", command: deno("raw") },
    { name: "netconn", label: "netconn", command: deno("netconn") },
  ];
  const node = await version(["node", "--version"]);
  list.push(
    node === null
      ? { name: "node", label: "Node", skipped: "`node` not found" }
      : { name: "node", label: "Node", command: { cmd: "node", args: [here("./node.mjs")] } },
  );
  const go = await buildGo("compare", { task: "with -A" });
  list.push(
    isBuilt(go)
      ? { name: "go", label: "Go", command: { cmd: go.binary, args: [] } }
      : { name: "go", label: "Go", skipped: `${go.reason}; to measure it, ${go.remedy}` },
  );
  return list.filter((p) => o.only === null || o.only.includes(p.name));
}

/** rates[peer][workload][round]: NaN where a peer had stopped. */
type Rates = Map<string, Map<string, number[]>>;

function rate(rates: Rates, peer: string, key: string): number {
  return median((rates.get(peer)?.get(key) ?? []).filter((x) => !Number.isNaN(x)));
}

/** The median over rounds of peer's rate over base's rate in the same round. */
function ratio(rates: Rates, peer: string, base: string, key: string, baseKey = key): number {
  const a = rates.get(peer)?.get(key) ?? [];
  const b = rates.get(base)?.get(baseKey) ?? [];
  const r = a.map((x, i) => x / b[i]!).filter((x) => Number.isFinite(x));
  return median(r);
}

async function measure(list: Peer[], o: Options): Promise<Rates> {
  const runnable = list.filter((p) => p.skipped === undefined);
  const children = new Map<string, JsonLinesChild>();
  const rates: Rates = new Map(
    runnable.map((p) => [p.name, new Map(WORKLOADS.map((w) => [w.key, []]))]),
  );
  try {
    for (const p of runnable) {
      const child = new JsonLinesChild(
        p.label,
        new Deno.Command(p.command!.cmd, {
          args: p.command!.args,
          stdin: "piped",
          stdout: "piped",
          stderr: "inherit",
        }),
      );
      children.set(p.name, child);
      try {
        p.runtime = String((await child.read()).runtime);
      } catch (e) {
        p.failed = String(e);
      }
    }
    for (let round = 0; round < o.warmup + o.rounds; round++) {
      if (!o.json) {
        console.error(
          `round ${round + 1}/${o.warmup + o.rounds}${round < o.warmup ? " (warm-up)" : ""}`,
        );
      }
      for (const [wi, w] of WORKLOADS.entries()) {
        const order = runnable.map((_, i) => runnable[(i + round + wi) % runnable.length]!);
        for (const p of order) {
          let r = NaN;
          if (p.failed === undefined) {
            try {
              const reply = await children.get(p.name)!.ask({
                workload: w.key,
                ms: o.sliceMs,
                buffer: o.buffer,
              });
              r = Number(reply.rate);
            } catch (e) {
              p.failed = `${w.key}: ${e instanceof Error ? e.message : String(e)}`;
            }
          }
          if (round >= o.warmup) rates.get(p.name)!.get(w.key)!.push(r);
        }
      }
    }
  } finally {
    await Promise.allSettled([...children.values()].map((c) => c.end()));
  }
  return rates;
}

function fmtRate(x: number): string {
  if (Number.isNaN(x)) return "-";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  return Math.round(x).toLocaleString("en-US");
}

function table(list: Peer[], rates: Rates): string {
  const header = ["workload", "unit", ...list.map((p) => p.label)];
  const cells = WORKLOADS.map((w) => [
    w.name,
    w.unit,
    ...list.map((p) => {
      if (p.skipped !== undefined) return "skipped";
      const r = fmtRate(rate(rates, p.name, w.key));
      if (p.name === "deno-raw") return r;
      const x = ratio(rates, p.name, "deno-raw", w.key);
      return Number.isNaN(x) ? r : `${r} ${x.toFixed(2)}x`;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c.map((x, i) => (i < 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ");
  return [line(header), ...cells.map(line)].join("\n");
}

interface Goal {
  name: string;
  value: number;
  want: number;
}

function goals(rates: Rates): Goal[] {
  const list: Goal[] = [
    {
      name: "64 B via BufWriter (await write) / Go bufio.Writer",
      value: ratio(rates, "netconn", "go", "msg-buf"),
      want: 1,
    },
    {
      name: "64 B via BufWriter (tryWrite) / Go bufio.Writer",
      value: ratio(rates, "netconn", "go", "msg-buf-fast", "msg-buf"),
      want: 1,
    },
    {
      name: "bulk, netconn / raw Deno",
      value: ratio(rates, "netconn", "deno-raw", "bulk"),
      want: 0.95,
    },
    {
      name: "ping-pong, netconn / raw Deno",
      value: ratio(rates, "netconn", "deno-raw", "pingpong"),
      want: 0.95,
    },
    {
      name: "netconn, 8 writers / 1 writer",
      value: ratio(rates, "netconn", "netconn", "frames-8", "frames-1"),
      want: 0.9,
    },
  ];
  return list.filter((g) => !Number.isNaN(g.value));
}

async function main(): Promise<void> {
  const o = parseOptions(Deno.args);
  const list = await findPeers(o);
  const started = performance.now();
  const rates = await measure(list, o);
  const seconds = (performance.now() - started) / 1000;
  const goalList = goals(rates);
  const host = machineLine(machine());
  const versions = [...new Set(list.flatMap((p) => p.runtime ?? []))];
  const notes = list.flatMap((p) => [
    ...(p.skipped === undefined ? [] : [`${p.label} skipped: ${p.skipped}`]),
    ...(p.failed === undefined ? [] : [`FAILED ${p.label}: ${p.failed}`]),
  ]);
  if (o.json) {
    const summary = Object.fromEntries(WORKLOADS.map((w) => [
      w.key,
      Object.fromEntries(
        list.filter((p) => p.skipped === undefined).map((p) => [p.name, {
          rate: rate(rates, p.name, w.key),
          ratioToRawDeno: ratio(rates, p.name, "deno-raw", w.key),
          rates: rates.get(p.name)?.get(w.key) ?? [],
        }]),
      ),
    ]));
    console.log(
      JSON.stringify({
        machine: host,
        versions,
        options: o,
        seconds,
        notes,
        goals: goalList,
        summary,
      }),
    );
  } else {
    console.log(
      `peers over loopback, each in its own process: ${host}; ${versions.join(", ")}; ` +
        `${o.rounds} rounds of ${o.sliceMs} ms slices (medians); buffered: ${o.buffer} B`,
    );
    console.log(table(list, rates));
    console.log(
      "ratios: to raw Deno in the same round. buffered: netconn BufWriter `await bw.write(msg)`, " +
        "Go bufio.Writer, a hand-rolled buffer in Node and raw Deno. fast path: netconn " +
        "`bw.tryWrite(msg) || await bw.write(msg)`, Node cork/uncork, the others as buffered.",
    );
    for (const g of goalList) {
      const verdict = g.value >= g.want ? "met" : "missed";
      console.log(`goal ${g.name}: ${g.value.toFixed(3)}x (want >= ${g.want}): ${verdict}`);
    }
    for (const n of notes) console.log(n);
    console.log(`(${seconds.toFixed(0)} s)`);
  }
  if (list.some((p) => p.failed !== undefined)) Deno.exitCode = 1;
}

if (import.meta.main) await main();
