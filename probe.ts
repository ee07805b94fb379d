/**
 * The netconn probe: runs the experiments of the article netconn grew from
 * ("Go语言TCP Socket编程") on loopback, through netconn, and prints one row
 * each: the case, what Go does, and what happened here, with the numbers.
 *
 * ```sh
 * deno task probe            # a table on stdout, progress on stderr
 * deno run --allow-net probe.ts --json   # the rows as a JSON array
 * deno run --allow-net probe.ts --only=read   # the rows whose case contains "read"
 * deno task probe --sweep    # the write-block threshold over the whole buffer-size grid
 * ```
 *
 * Exits 0 when every row behaved as Go's contract says, 1 otherwise. Only
 * `--allow-net` is needed; rows for socket options set through libc need
 * `--allow-ffi` too and are skipped without it. Every experiment is bounded
 * in time and closes what it opens; the whole run takes a few seconds, with
 * `--sweep` some seconds more.
 *
 * @module
 */

import { experiments, sweepExperiments } from "./probe/cases.ts";
import { type Experiment, Lab, type ProbeTable } from "./probe/_lab.ts";

/** One printed row: an experiment's outcome, or why it has none. */
export interface Row {
  /** The case, e.g. `"write blocking"`. */
  case: string;
  /** What Go does. */
  go: string;
  /** What happened here, with the numbers. */
  netconn: string;
  /** The same on a raw `Deno.Conn`, when measured; else "". */
  raw: string;
  /** The measured numbers, by name. */
  numbers: Record<string, number>;
  /** True when netconn behaved as Go's contract says. */
  ok: boolean;
  /** How long the experiment took, in ms. */
  ms: number;
  /** Tables of the row's own, printed after the probe's table (the sweep's grid). */
  tables?: ProbeTable[];
  /** Why the experiment failed to finish, if it did. */
  error?: string;
  /** True when the experiment was not run for want of a permission (`ok` stays true). */
  skipped?: boolean;
}

/** Options for {@linkcode probe}. */
export interface ProbeOptions {
  /** Run only the cases whose name contains this text. */
  only?: string;
  /** Sweep the whole buffer-size grid instead of its diagonal. @default {false} */
  sweep?: boolean;
  /** Called before each experiment, with its 1-based index and the count. */
  onStart?: (index: number, count: number, name: string) => void;
  /** Milliseconds the whole run may take; later rows fail as out of time. @default {45000} */
  budgetMs?: number;
}

const DEFAULT_LIMIT_MS = 5000;

/**
 * Runs the probe's experiments one after another.
 *
 * @param options Which cases, a progress callback and the time budget.
 * @returns One row per experiment.
 */
export async function probe(options: ProbeOptions = {}): Promise<Row[]> {
  const { only = "", onStart, budgetMs = 45_000, sweep = false } = options;
  const chosen = (sweep ? sweepExperiments : experiments).filter((e) => e.name.includes(only));
  const end = performance.now() + budgetMs;
  const rows: Row[] = [];
  for (const [i, experiment] of chosen.entries()) {
    onStart?.(i + 1, chosen.length, experiment.name);
    const left = Math.floor(end - performance.now());
    rows.push(
      await runExperiment(experiment, Math.min(experiment.limitMs ?? DEFAULT_LIMIT_MS, left)),
    );
  }
  return rows;
}

/**
 * Runs one experiment in its own Lab, which is closed when the experiment
 * ends or when `limitMs` passes, whichever comes first.
 *
 * @param experiment The experiment.
 * @param limitMs Its time limit in milliseconds.
 * @returns Its row: the outcome, or why there is none.
 */
export async function runExperiment(experiment: Experiment, limitMs: number): Promise<Row> {
  // Field order is the JSON's: case, go, netconn, raw, ok, numbers, ms.
  const row = { case: experiment.name, go: experiment.go, netconn: "", raw: "", ok: false };
  const none = { numbers: {}, ms: 0 };
  const missing = (experiment.needs ?? []).filter((name) =>
    Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state !== "granted"
  );
  if (missing.length > 0) {
    const flags = missing.map((name) => `--allow-${name}`).join(" ");
    return { ...row, netconn: `skipped: needs ${flags}`, ok: true, ...none, skipped: true };
  }
  if (limitMs <= 0) return { ...row, netconn: "not run", ...none, error: "out of time" };
  const lab = new Lab();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const reason = `did not finish within ${limitMs} ms`;
      void lab.close(reason);
      reject(new Error(reason));
    }, limitMs);
  });
  const start = performance.now();
  try {
    const { netconn, raw = "", ok, numbers, tables } = await Promise.race([
      experiment.run(lab),
      timeUp,
    ]);
    const ms = elapsed(start);
    return { ...row, netconn, raw, ok, numbers, ms, ...(tables === undefined ? {} : { tables }) };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    return { ...row, netconn: `failed: ${error}`, numbers: {}, ms: elapsed(start), error };
  } finally {
    clearTimeout(timer);
    await lab.close();
  }
}

function elapsed(start: number): number {
  return Math.round(performance.now() - start);
}

/**
 * The rows as a Markdown table, padded to line up in a terminal too. The raw
 * Deno column appears when some row has a raw measurement.
 *
 * @param rows The probe's rows.
 * @returns The table, one line per row after the header.
 */
export function formatTable(rows: Row[]): string {
  const withRaw = rows.some((r) => r.raw !== "");
  const head = ["case", "Go", "netconn (measured here)", ...(withRaw ? ["raw Deno"] : []), "ok"];
  const body = rows.map((r) => [
    r.case,
    r.go,
    r.netconn,
    ...(withRaw ? [r.raw] : []),
    r.ok ? "yes" : "NO",
  ]);
  return markdownTable(head, body);
}

/**
 * The tables the rows carry (the sweep's grid), each under its title.
 *
 * @param rows The probe's rows.
 * @returns The tables, a blank line between them; "" when no row has one.
 */
export function formatRowTables(rows: Row[]): string {
  return rows.flatMap((r) => r.tables ?? []).map((t) =>
    `${t.title}\n\n${markdownTable(t.head, t.rows)}`
  ).join("\n\n");
}

/** A Markdown table, its columns padded to line up in a terminal too. */
function markdownTable(head: string[], body: string[][]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((cells) => cells[c]!.length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, c) => cell.padEnd(widths[c]!)).join(" | ")} |`;
  const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(head), rule, ...body.map(line)].join("\n");
}

/** Progress on stderr: one line per case, redrawn in place on a terminal. */
function progress(): { start(i: number, n: number, name: string): void; done(): void } {
  const encoder = new TextEncoder();
  const tty = Deno.stderr.isTerminal();
  const say = (text: string): void => {
    Deno.stderr.writeSync(encoder.encode(text));
  };
  return {
    start(i, n, name) {
      say(tty ? `\r\x1b[Krunning ${i}/${n}: ${name}…` : `running ${i}/${n}: ${name}…\n`);
    },
    done() {
      if (tty) say("\r\x1b[K");
    },
  };
}

async function main(args: string[]): Promise<number> {
  const json = args.includes("--json");
  const sweep = args.includes("--sweep");
  const onlyArg = args.find((a) => a.startsWith("--only="));
  const known = (a: string): boolean => a === "--json" || a === "--sweep" || a === onlyArg;
  if (args.includes("--help") || !args.every(known)) {
    console.log(
      "Usage: deno run --allow-net [--allow-ffi] probe.ts [--json] [--only=TEXT] [--sweep]",
    );
    return args.includes("--help") ? 0 : 2;
  }
  // An experiment cut short by its time limit may leave a rejected promise
  // behind; note it rather than let it end the run.
  let stray = 0;
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    stray++;
    console.error(`probe: unhandled rejection: ${String(event.reason)}`);
  });
  const bar = progress();
  const only = onlyArg?.slice("--only=".length);
  const rows = await probe({ ...(only === undefined ? {} : { only }), sweep, onStart: bar.start });
  bar.done();
  if (json) console.log(JSON.stringify(rows, null, 2));
  else {
    console.log(formatTable(rows));
    const tables = formatRowTables(rows);
    if (tables !== "") console.log(`\n${tables}`);
  }
  const failed = rows.filter((r) => !r.ok);
  if (!json) {
    console.error(
      `${rows.length - failed.length} of ${rows.length} rows behave as in Go` +
        (failed.length > 0 ? `; not: ${failed.map((r) => r.case).join(", ")}` : ""),
    );
  }
  return failed.length === 0 && rows.length > 0 && stray === 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
  // Everything is closed by now, so the process ends at once; if something
  // leaked and keeps it alive, say so and end anyway.
  const leak = setTimeout(() => {
    console.error("probe: a resource was left open; exiting");
    Deno.exit(1);
  }, 2000);
  Deno.unrefTimer(leak);
}
