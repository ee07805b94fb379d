// netconn beside its peers: raw Deno, netconn, Node's `net` and Go's `net` +
// `bufio`, each in its own process on this machine, each measuring itself
// over loopback (both ends in its own process), on the same workloads (see
// bench/compare/deno.ts). Not part of CI; the README's way to re-check the
// figures it claims.
//
//   deno run -A bench/compare/run.ts [--passes=3] [--slices=4] [--slice-ms=250]
//     [--buffer=4096] [--only=deno-raw,netconn,node,go] [--json]
//
// Go is built into a temporary directory when `go` is installed
// (`apt-get install -y golang-go` on Debian) and skipped, with a note,
// when it is not. Each pass runs every peer once, in an order that rotates
// from pass to pass; a peer reports the median of its slices. The table gives
// the median over passes of each rate, and of each per-pass ratio to raw
// Deno, so a burst of load from another process moves one pass only.

interface PeerResult {
  peer: string;
  runtime: string;
  buffer: number;
  results: Record<string, { unit: string; rates: number[]; median: number }>;
}

interface Command {
  cmd: string;
  args: string[];
}

interface Peer {
  name: string;
  label: string;
  command?: Command;
  /** Why the peer does not run, when it does not. */
  skipped?: string;
  runtime?: string;
}

interface Options {
  passes: number;
  slices: number;
  sliceMs: number;
  buffer: number;
  only: string[] | null;
  json: boolean;
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
  const o: Options = { passes: 3, slices: 4, sliceMs: 250, buffer: 4096, only: null, json: false };
  for (const a of args) {
    const [key, value] = a.split("=", 2) as [string, string | undefined];
    const n = Number(value);
    const count = Number.isInteger(n) && n >= 1;
    if (key === "--json" && value === undefined) o.json = true;
    else if (key === "--passes" && count) o.passes = n;
    else if (key === "--slices" && count) o.slices = n;
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

/** Runs a command to its end; its output, or null when it cannot start or fails. */
async function output(cmd: string, args: string[], cwd?: string): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      ...(cwd === undefined ? {} : { cwd }),
      env: { GOTOOLCHAIN: "local", GOFLAGS: "-buildvcs=false" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success) {
      console.error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
      return null;
    }
    return text;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

function here(path: string): string {
  return new URL(path, import.meta.url).pathname;
}

async function peers(o: Options, tmp: string): Promise<Peer[]> {
  const common = [`--slices=${o.slices}`, `--slice-ms=${o.sliceMs}`, `--buffer=${o.buffer}`];
  const deno = (impl: string): Command => ({
    cmd: Deno.execPath(),
    args: ["run", "--allow-net", here("./deno.ts"), `--impl=${impl}`, ...common],
  });
  const list: Peer[] = [
    {
      name: "deno-raw",
      label: "raw Deno",
      command: deno("raw"),
      runtime: `deno ${Deno.version.deno}`,
    },
    {
      name: "netconn",
      label: "netconn",
      command: deno("netconn"),
      runtime: `deno ${Deno.version.deno}`,
    },
  ];
  const node = await output("node", ["--version"]);
  list.push(
    node === null ? { name: "node", label: "Node", skipped: "`node` not found" } : {
      name: "node",
      label: "Node",
      command: { cmd: "node", args: [here("./node.mjs"), ...common] },
      runtime: `node ${node}`,
    },
  );
  const go = await output("go", ["version"]);
  if (go === null) {
    list.push({
      name: "go",
      label: "Go",
      skipped: "`go` not found (Debian: apt-get install -y golang-go)",
    });
  } else {
    const bin = `${tmp}/netconn-compare-go`;
    const built = await output("go", ["build", "-o", bin, "."], here("./go/"));
    list.push(
      built === null ? { name: "go", label: "Go", skipped: "`go build` failed" } : {
        name: "go",
        label: "Go",
        command: { cmd: bin, args: common },
        runtime: go.replace(/^go version /, ""),
      },
    );
  }
  return list.filter((p) => o.only === null || o.only.includes(p.name));
}

async function runPeer(peer: Peer): Promise<PeerResult | string> {
  const { cmd, args } = peer.command!;
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) return `exited with code ${out.code}`;
  try {
    return JSON.parse(text.slice(text.lastIndexOf("\n") + 1)) as PeerResult;
  } catch {
    return `printed no JSON: ${text.slice(0, 200)}`;
  }
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Per peer, the results of every pass it completed (null for a failed pass). */
type Passes = Map<string, (PeerResult | null)[]>;

function rate(passes: Passes, peer: string, key: string): number {
  return median(
    (passes.get(peer) ?? []).flatMap((r) => r?.results[key] ? [r.results[key].median] : []),
  );
}

/** The median over passes of peer's rate over base's rate in the same pass. */
function ratio(passes: Passes, peer: string, base: string, key: string, baseKey = key): number {
  const a = passes.get(peer) ?? [];
  const b = passes.get(base) ?? [];
  const ratios: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]?.results[key]?.median;
    const y = b[i]?.results[baseKey]?.median;
    if (x !== undefined && y !== undefined) ratios.push(x / y);
  }
  return median(ratios);
}

function fmtRate(x: number): string {
  if (Number.isNaN(x)) return "-";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  return Math.round(x).toLocaleString("en-US");
}

function table(list: Peer[], passes: Passes): string {
  const cols = list.map((p) => p.label);
  const header = ["workload", "unit", ...cols];
  const cells = WORKLOADS.map((w) => [
    w.name,
    w.unit,
    ...list.map((p) => {
      if (p.skipped !== undefined) return "skipped";
      const r = rate(passes, p.name, w.key);
      if (p.name === "deno-raw") return fmtRate(r);
      return `${fmtRate(r)} ${ratio(passes, p.name, "deno-raw", w.key).toFixed(2)}x`;
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

function goals(passes: Passes): Goal[] {
  const g: Goal[] = [
    {
      name: "bulk, netconn / raw Deno",
      value: ratio(passes, "netconn", "deno-raw", "bulk"),
      want: 0.95,
    },
    {
      name: "ping-pong, netconn / raw Deno",
      value: ratio(passes, "netconn", "deno-raw", "pingpong"),
      want: 0.95,
    },
    {
      name: "64 B via BufWriter (await write) / Go bufio.Writer",
      value: ratio(passes, "netconn", "go", "msg-buf"),
      want: 1,
    },
    {
      name: "64 B via BufWriter (tryWrite) / Go bufio.Writer",
      value: ratio(passes, "netconn", "go", "msg-buf-fast", "msg-buf"),
      want: 1,
    },
    {
      name: "netconn 8 writers / 1 writer",
      value: ratio(passes, "netconn", "netconn", "frames-8", "frames-1"),
      want: 0.9,
    },
  ];
  return g.filter((x) => !Number.isNaN(x.value));
}

function cpu(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    return `${m?.[1]?.trim() ?? "unknown CPU"}, ${navigator.hardwareConcurrency} cores`;
  } catch {
    return `${navigator.hardwareConcurrency} cores`;
  }
}

async function main(): Promise<void> {
  const o = parseOptions(Deno.args);
  const tmp = await Deno.makeTempDir({ prefix: "netconn-compare-" });
  try {
    const list = await peers(o, tmp);
    const runnable = list.filter((p) => p.skipped === undefined);
    const passes: Passes = new Map(runnable.map((p) => [p.name, []]));
    const failures: string[] = [];
    for (let pass = 0; pass < o.passes; pass++) {
      const order = runnable.map((_, i) => runnable[(i + pass) % runnable.length]!);
      for (const peer of order) {
        if (!o.json) console.error(`pass ${pass + 1}/${o.passes}: ${peer.label}`);
        const r = await runPeer(peer);
        if (typeof r === "string") failures.push(`${peer.label}, pass ${pass + 1}: ${r}`);
        passes.get(peer.name)!.push(typeof r === "string" ? null : r);
      }
    }
    const goalList = goals(passes);
    const machine = cpu();
    const versions = list.flatMap((p) =>
      p.runtime === undefined ? [] : [`${p.label}: ${p.runtime}`]
    );
    const notes = list.flatMap((p) =>
      p.skipped === undefined ? [] : [`${p.label} skipped: ${p.skipped}`]
    );
    if (o.json) {
      const summary = Object.fromEntries(WORKLOADS.map((w) => [
        w.key,
        Object.fromEntries(runnable.map((p) => [p.name, {
          rate: rate(passes, p.name, w.key),
          ratioToRawDeno: ratio(passes, p.name, "deno-raw", w.key),
        }])),
      ]));
      console.log(JSON.stringify({
        machine,
        versions,
        options: o,
        notes,
        failures,
        goals: goalList,
        summary,
        passes: Object.fromEntries(passes),
      }));
    } else {
      console.log(
        `peers over loopback, each in its own process: ${machine}; ${versions.join(", ")}; ` +
          `${o.passes} passes x ${o.slices} slices of ${o.sliceMs} ms, medians; ` +
          `buffered = a ${o.buffer}-byte buffer; ratios to raw Deno`,
      );
      console.log(table(list, passes));
      console.log(
        "buffered: netconn BufWriter `await bw.write(msg)`, Go bufio.Writer, Node and raw Deno a " +
          "hand-rolled buffer; fast path: netconn `bw.tryWrite(msg) || await bw.write(msg)`, " +
          "Node cork/uncork, the others as buffered",
      );
      for (const g of goalList) {
        const verdict = g.value >= g.want ? "met" : "missed";
        console.log(`goal ${g.name}: ${g.value.toFixed(2)}x (want >= ${g.want}) ${verdict}`);
      }
      for (const n of notes) console.log(n);
      for (const f of failures) console.log(`FAILED ${f}`);
    }
    if (failures.length > 0) Deno.exitCode = 1;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) await main();
