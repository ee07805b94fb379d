// Scale: thousands of idle loopback conns, each with a read pending, raw
// Deno.Conn against netconn:
//
//   deno run --allow-net --allow-ffi --allow-read --allow-run --v8-flags=--expose-gc \
//     bench/scale.ts [--conns=10000] [--buf=4096] [--lead=500] [--json]
//
// `--conns` pairs are spread over two worker processes (bench/_scale_worker.ts)
// that dial each other, half each way, so each process holds `--conns`
// sockets and the fd limit per process (often 20,000 hard) is never the
// bound; the workers run with the soft limit raised when it is too low. Each
// worker measures itself (heap after forced GC, so `--expose-gc` is passed to
// it), and this parent drives the steps in lockstep:
//
// 1. open: dial half, accept half; a read (into a `--buf`-byte buffer) starts
//    on every conn, no deadline;
// 2. (netconn) arm every read deadline an hour ahead; clear them again;
// 3. (netconn) mass deadline: every read deadline set to one time `--lead` ms
//    ahead; every read must reject with TimeoutError; the time from the
//    deadline to the first and to the last rejection is reported;
// 4. echo: one byte each way on every conn, to show that none was hurt;
// 5. close: the first process closes all its conns while their reads wait
//    (each must fail with ClosedError); then the second, whose reads have
//    seen EOF by then.
//
// Heap per conn is (heapUsed - heapUsed before opening) / conns. Timers are
// counted by wrapping setTimeout in the worker: an idle conn without a
// deadline must hold none.

import { JsonLinesChild } from "../_kit/child.ts";
import type { Step } from "./_scale_worker.ts";

type Result = Record<string, unknown> & { step: string; error?: string };

interface Options {
  conns: number;
  buf: number;
  lead: number;
  json: boolean;
}

/** Room per worker for fds that are not conns: stdio, the listener, the runtime's own. */
const FD_MARGIN = 64;

function parseOptions(args: string[]): Options {
  const options: Options = { conns: 10_000, buf: 4096, lead: 500, json: false };
  for (const a of args) {
    const [key, value] = a.split("=", 2) as [string, string | undefined];
    if (key === "--json" && value === undefined) {
      options.json = true;
      continue;
    }
    const n = Number(value);
    if (key === "--conns" && Number.isInteger(n) && n >= 2 && n % 2 === 0) options.conns = n;
    else if (key === "--buf" && Number.isInteger(n) && n >= 1) options.buf = n;
    else if (key === "--lead" && Number.isInteger(n) && n >= 1) options.lead = n;
    else throw new RangeError(`Invalid option "${a}": see the usage at the top of bench/scale.ts`);
  }
  return options;
}

/** Runs a shell command and returns its output (Deno reads /proc only with --allow-all). */
function shell(script: string): string {
  const out = new Deno.Command("sh", { args: ["-c", script], stderr: "inherit" }).outputSync();
  if (!out.success) throw new Error(`Shell command failed: ${script}`);
  return new TextDecoder().decode(out.stdout).trim();
}

/** The soft and hard limits on open files, as a process started from here gets them. */
function fdLimits(): { soft: number; hard: number } {
  const [soft, hard] = shell("ulimit -Sn; ulimit -Hn").split("\n").map((s) => {
    return s.trim() === "unlimited" ? Infinity : Number(s);
  });
  if (!(soft! > 0 && hard! > 0)) throw new Error("Cannot read the open-file limit (ulimit -n)");
  return { soft: soft!, hard: hard! };
}

/** The command that runs a worker, under a raised soft fd limit when needed. */
function workerCommand(variant: string, options: Options): Deno.Command {
  const need = options.conns + FD_MARGIN;
  const { soft, hard } = fdLimits();
  if (need > hard) {
    throw new RangeError(
      `Each worker needs ${need} open files but the hard limit is ${hard}: ` +
        `use --conns=${Math.max(2, (hard - FD_MARGIN) & ~1)} or less, or raise the hard limit`,
    );
  }
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  const args = [
    "run",
    "--allow-net",
    "--allow-read",
    ...(ffi ? ["--allow-ffi"] : []),
    "--v8-flags=--expose-gc",
    new URL("./_scale_worker.ts", import.meta.url).pathname,
    `--variant=${variant}`,
    `--conns=${options.conns}`,
    `--buf=${options.buf}`,
  ];
  const io = { stdin: "piped", stdout: "piped", stderr: "inherit" } as const;
  if (soft >= need) return new Deno.Command(Deno.execPath(), { args, ...io });
  // Raise the soft limit (up to the hard one needs no privilege), then exec the worker.
  const script = 'ulimit -n "$1" && shift && exec "$@"';
  return new Deno.Command("sh", {
    args: ["-c", script, "sh", String(need), Deno.execPath(), ...args],
    ...io,
  });
}

/** A worker process, driven one step at a time. */
class Worker {
  #child: JsonLinesChild;

  constructor(name: string, command: Deno.Command) {
    this.#child = new JsonLinesChild(`Worker ${name}`, command);
  }

  async ask(step: Step): Promise<Result> {
    return await this.#child.ask(step) as Result;
  }

  /** Open fds of the worker, from /proc. */
  fds(): number {
    return Number(shell(`ls /proc/${this.#child.pid}/fd | wc -l`));
  }

  async end(): Promise<void> {
    await this.#child.end();
  }
}

/** The steps' results of one variant: [step][worker]. */
type Run = Record<string, [Result, Result]>;

async function both(workers: [Worker, Worker], steps: [Step, Step]): Promise<[Result, Result]> {
  return await Promise.all([workers[0].ask(steps[0]), workers[1].ask(steps[1])]);
}

async function runVariant(variant: "raw" | "netconn", options: Options): Promise<Run> {
  const workers: [Worker, Worker] = [
    new Worker(`${variant}/0`, workerCommand(variant, options)),
    new Worker(`${variant}/1`, workerCommand(variant, options)),
  ];
  const run: Run = {};
  try {
    run.listen = await both(workers, [{ step: "listen" }, { step: "listen" }]);
    const ports = run.listen.map((r) => r.port as number);
    const start = performance.now();
    run.open = await both(workers, [
      { step: "open", peerPort: ports[1]! },
      { step: "open", peerPort: ports[0]! },
    ]);
    run.open[0].wallMs = performance.now() - start;
    run.open[0].fds = workers[0].fds();
    run.open[1].fds = workers[1].fds();
    if (variant === "netconn") {
      run.arm = await both(workers, [{ step: "arm" }, { step: "arm" }]);
      run.clear = await both(workers, [{ step: "clear" }, { step: "clear" }]);
      const at = Date.now() + options.lead;
      run.deadline = await both(workers, [{ step: "deadline", at }, { step: "deadline", at }]);
    }
    run.echo = await both(workers, [{ step: "echo" }, { step: "echo" }]);
    // One side at a time: the first closes with reads waiting, the second
    // after its reads have seen the peer's FIN.
    const first = await workers[0].ask({ step: "close" });
    const second = await workers[1].ask({ step: "close" });
    run.close = [first, second];
  } finally {
    await Promise.allSettled(workers.map((w) => w.end()));
  }
  return run;
}

// ---- the report ----

function num(r: Result | undefined, key: string): number {
  const v = r?.[key];
  return typeof v === "number" ? v : NaN;
}

/** The mean over both workers of `key` at `step`. */
function mean(run: Run, step: string, key: string): number {
  const rs = run[step];
  return rs === undefined ? NaN : (num(rs[0], key) + num(rs[1], key)) / 2;
}

/** The sum over both workers of `key` at `step`. */
function sum(run: Run, step: string, key: string): number {
  const rs = run[step];
  return rs === undefined ? NaN : num(rs[0], key) + num(rs[1], key);
}

function perConn(run: Run, step: string, key: string, conns: number): number {
  return (mean(run, step, key) - mean(run, "listen", key)) / conns;
}

interface Row {
  name: string;
  raw: number;
  netconn: number;
  unit: string;
  diff?: boolean; // show netconn - raw
  note?: string;
}

function rows(raw: Run, nc: Run, o: Options): Row[] {
  const n = o.conns;
  const heap = (step: string, r: Run): number => perConn(r, step, "heapUsed", n);
  const deadline = nc.deadline;
  const timedOut = sum(nc, "deadline", "timeout");
  return [
    {
      name: "heap per conn, read pending, no deadline",
      raw: heap("open", raw),
      netconn: heap("open", nc),
      unit: "B",
      diff: true,
    },
    {
      name: "heap per conn, read deadline armed",
      raw: heap("open", raw),
      netconn: heap("arm", nc),
      unit: "B",
      diff: true,
      note: "goal: netconn - raw <= 4096 B",
    },
    {
      name: "heap per conn, idle again after timeout + echo",
      raw: heap("echo", raw),
      netconn: heap("echo", nc),
      unit: "B",
      diff: true,
    },
    {
      name: "external per conn (ArrayBuffers), read pending",
      raw: perConn(raw, "open", "external", n),
      netconn: perConn(nc, "open", "external", n),
      unit: "B",
      diff: true,
      note: `the caller's ${o.buf}-byte read buffer is in both`,
    },
    {
      name: "rss per conn, read pending",
      raw: perConn(raw, "open", "rss", n),
      netconn: perConn(nc, "open", "rss", n),
      unit: "B",
      diff: true,
    },
    {
      name: "timers, idle, no deadline",
      raw: sum(raw, "open", "timers"),
      netconn: sum(nc, "open", "timers"),
      unit: "",
    },
    { name: "timers, read deadlines armed", raw: NaN, netconn: sum(nc, "arm", "timers"), unit: "" },
    {
      name: "timers, read deadlines cleared",
      raw: NaN,
      netconn: sum(nc, "clear", "timers"),
      unit: "",
      note: "an armed timer stays until its time, then does nothing",
    },
    {
      name: "timers, after the mass deadline",
      raw: NaN,
      netconn: sum(nc, "deadline", "timersAfter"),
      unit: "",
    },
    {
      name: "timers, idle after echo, no deadline",
      raw: sum(raw, "echo", "timers"),
      netconn: sum(nc, "echo", "timers"),
      unit: "",
    },
    {
      name: "open fds per process, all open",
      raw: mean(raw, "open", "fds"),
      netconn: mean(nc, "open", "fds"),
      unit: "",
    },
    {
      name: "fd lookups for socket options: scans of every fd",
      raw: NaN,
      netconn: sum(nc, "open", "scans"),
      unit: "",
      note: `${sum(nc, "open", "lookups")} lookups, ${sum(nc, "open", "probes")} single-fd probes`,
    },
    {
      name: "open all (dial half, accept half)",
      raw: num(raw.open?.[0], "wallMs"),
      netconn: num(nc.open?.[0], "wallMs"),
      unit: "ms",
      note: "both processes at once",
    },
    {
      name: "mass deadline: set every read deadline",
      raw: NaN,
      netconn: mean(nc, "deadline", "setMs"),
      unit: "ms",
    },
    {
      name: "mass deadline: deadline -> first rejection",
      raw: NaN,
      netconn: Math.min(num(deadline?.[0], "firstMs"), num(deadline?.[1], "firstMs")),
      unit: "ms",
    },
    {
      name: "mass deadline: deadline -> last rejection",
      raw: NaN,
      netconn: Math.max(num(deadline?.[0], "lastMs"), num(deadline?.[1], "lastMs")),
      unit: "ms",
      note: `${timedOut} of ${2 * n} reads rejected with TimeoutError`,
    },
    {
      name: "echo one byte on every conn",
      raw: Math.max(num(raw.echo?.[0], "echoMs"), num(raw.echo?.[1], "echoMs")),
      netconn: Math.max(num(nc.echo?.[0], "echoMs"), num(nc.echo?.[1], "echoMs")),
      unit: "ms",
      note: `conns whole: raw ${sum(raw, "echo", "ok")}, netconn ${sum(nc, "echo", "ok")} of ${
        2 * n
      }`,
    },
    {
      name: "close all, reads pending",
      raw: num(raw.close?.[0], "closeMs"),
      netconn: num(nc.close?.[0], "closeMs"),
      unit: "ms",
      note: `until every read failed; ClosedError: ${num(nc.close?.[0], "closed")} of ${n}`,
    },
    {
      name: "close all, after the peer closed",
      raw: num(raw.close?.[1], "closeMs"),
      netconn: num(nc.close?.[1], "closeMs"),
      unit: "ms",
    },
    {
      name: "heap left per conn after close",
      raw: perConn(raw, "close", "heapUsed", n),
      netconn: perConn(nc, "close", "heapUsed", n),
      unit: "B",
    },
  ];
}

function show(x: number, unit: string): string {
  if (Number.isNaN(x)) return "-";
  const digits = unit === "ms" && Math.abs(x) < 100 ? 1 : 0;
  const text = x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return unit === "" ? text : `${text} ${unit}`;
}

function table(list: Row[]): string {
  const header = ["", "raw Deno.Conn", "netconn", "netconn - raw", ""];
  const cells = list.map((r) => [
    r.name,
    show(r.raw, r.unit),
    show(r.netconn, r.unit),
    r.diff ? show(r.netconn - r.raw, r.unit) : "",
    r.note ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c.map((x, i) => i === 0 || i === 4 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))
      .join("  ").trimEnd();
  return [line(header), ...cells.map(line)].join("\n");
}

function cpuName(): string {
  try {
    return shell("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1") || "unknown";
  } catch {
    return "unknown";
  }
}

/** Fails loudly when a step did not do what it must. */
function check(raw: Run, nc: Run, o: Options): string[] {
  const n = o.conns;
  const problems: string[] = [];
  const expectSum = (run: Run, name: string, step: string, key: string, want: number): void => {
    const got = sum(run, step, key);
    if (got !== want) problems.push(`${name} ${step}: ${key} ${got}, want ${want}`);
  };
  for (const [name, run] of [["raw", raw], ["netconn", nc]] as const) {
    expectSum(run, name, "echo", "ok", 2 * n);
    if (!(mean(run, "open", "fds") >= n)) problems.push(`${name} open: fewer than ${n} fds open`);
    expectSum(run, name, "open", "timers", 0);
    expectSum(run, name, "echo", "timers", 0);
    if (num(run.close?.[0], "closed") !== n) {
      problems.push(
        `${name} close: ${num(run.close?.[0], "closed")} reads failed as closed, want ${n}`,
      );
    }
  }
  expectSum(nc, "netconn", "deadline", "timeout", 2 * n);
  for (const r of nc.deadline ?? []) {
    if (r.setDoneBeforeDeadline !== true) {
      problems.push("netconn deadline: setting the deadlines took longer than --lead; raise it");
    }
  }
  return problems;
}

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  const started = performance.now();
  const raw = await runVariant("raw", options);
  const nc = await runVariant("netconn", options);
  const list = rows(raw, nc, options);
  const problems = check(raw, nc, options);
  const meta = {
    conns: options.conns,
    sockets: 2 * options.conns,
    processes: 2,
    readBuffer: options.buf,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    cpu: cpuName(),
    seconds: (performance.now() - started) / 1000,
  };
  if (options.json) {
    const results = Object.fromEntries(
      list.map((r) => [r.name, { raw: r.raw, netconn: r.netconn, unit: r.unit }]),
    );
    console.log(
      JSON.stringify({ ...meta, ok: problems.length === 0, problems, results, raw, netconn: nc }),
    );
  } else {
    console.log(
      `scale: ${options.conns.toLocaleString("en-US")} loopback pairs ` +
        `(${meta.sockets.toLocaleString("en-US")} sockets) over 2 processes, each holding ` +
        `${options.conns.toLocaleString("en-US")} conns with a read pending into a ` +
        `${options.buf}-byte buffer; Deno ${meta.deno}, ${meta.cpu}`,
    );
    console.log(table(list));
    console.log(`${problems.length === 0 ? "all checks passed" : problems.join("\n")}`);
    console.log(`(${meta.seconds.toFixed(1)} s)`);
  }
  if (problems.length > 0) Deno.exitCode = 1;
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    console.error(e.message); // a bad option or a limit too low: no stack trace
    Deno.exit(2);
  }
}
