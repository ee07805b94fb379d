/**
 * The netconn probe: runs the experiments of the article netconn grew from
 * ("Go语言TCP Socket编程") on loopback, through netconn and, when `go` is on
 * PATH, through the probe's own Go program (`go/probe/`), and prints one row
 * each: the case, Go's measured figures, netconn's, and whether they agree.
 *
 * ```sh
 * deno task probe                 # a table fitted to the terminal, progress on stderr
 * deno task probe --markdown      # the same as one Markdown table (the README's)
 * deno task probe --json          # everything as JSON, with the full text
 * deno task probe --only=read     # the rows whose case contains "read"
 * deno task probe --no-go         # without Go: the Go column says what Go documents
 * deno task probe --sweep         # the write-block threshold over the whole buffer grid
 * deno task probe --write-docs    # also writes the Markdown form to docs/measured/probe.md
 * ```
 *
 * Each row's verdict: "yes" (as Go: Go measured here, every compared figure
 * the same, error kinds included), "decision" (differs by a decision written
 * in docs/probe.md), "documented" (compared with what Go documents only) or
 * "NO". The counts are the last line. Exits 0 when no row differs from Go
 * without a decision, 1 otherwise. `--allow-net` alone runs the netconn
 * side; rows for socket options read back through libc need `--allow-ffi`;
 * building and running Go needs `--allow-run --allow-read --allow-write
 * --allow-env` (all in `deno task probe`). Rows without what they need are
 * skipped and say so. Every experiment is bounded in time and closes what it
 * opens; the whole run takes well under a minute.
 *
 * @module
 */

import { experiments, sweepExperiments } from "./cases.ts";
import { type Experiment, Lab } from "./_lab.ts";
import { type GoCases, type GoResult, GoRunner } from "./_go.ts";
import { buildGo, type GoBuild, type GoMissing, isBuilt } from "../_kit/go.ts";
import { machine, writeMeasured } from "../_kit/measured.ts";
import {
  caption,
  count,
  type Counts,
  formatMarkdown,
  formatRowTables,
  formatTerminal,
  summary,
  type TableRow,
  wrapLines,
} from "./_table.ts";

/** One printed row: an experiment's outcome beside Go's, or why it has none. */
export interface Row extends TableRow {
  /** The figures compared with Go's, side by side, when Go was measured. */
  compared?: string;
  /** The measured numbers, by name. */
  numbers: Record<string, number>;
  /** Measured words, by name, e.g. `{ error: "reset" }` (a NetError's kind). */
  facts?: Record<string, string>;
  /** Go's measured numbers, by name, when Go was measured. */
  goNumbers?: Record<string, number>;
  /** True when netconn behaved as Go's contract says (whatever Go measured). */
  ok: boolean;
  /** How long the experiment took, in ms. */
  ms: number;
  /** How many times the row was measured (more than once when it differed from Go). */
  attempts?: number;
  /** Why the experiment failed to finish, if it did. */
  error?: string;
  /** True when the experiment was not run for want of a permission or of Go. */
  skipped?: boolean;
}

/** Options for {@linkcode probe}. */
export interface ProbeOptions {
  /** Run only the cases whose name contains this text. */
  only?: string;
  /** Sweep the whole buffer-size grid instead of its diagonal. @default {false} */
  sweep?: boolean;
  /** The experiments to run instead of the probe's own (tests use this). */
  experiments?: readonly Experiment[];
  /** Runs Go beside netconn; without it the Go column says what Go documents. */
  go?: GoCases;
  /** Why Go is not measured (the skipped cross-runtime rows say it). */
  goMissing?: GoMissing;
  /** Called before each experiment, with its 1-based index and the count. */
  onStart?: (index: number, count: number, name: string) => void;
  /** Milliseconds the whole run may take; later rows fail as out of time. @default {45000} */
  budgetMs?: number;
}

const DEFAULT_LIMIT_MS = 5000;

/**
 * Runs the probe's experiments one after another, each after its Go case
 * when Go runs, and judges each row against Go.
 *
 * @param options Which cases, Go, a progress callback and the time budget.
 * @returns One row per experiment.
 */
export async function probe(options: ProbeOptions = {}): Promise<Row[]> {
  const { only = "", onStart, budgetMs = 45_000, sweep = false, go } = options;
  const all = options.experiments ?? (sweep ? sweepExperiments : experiments);
  const chosen = all.filter((e) => e.name.includes(only));
  const end = performance.now() + budgetMs;
  const rows: Row[] = [];
  for (const [i, experiment] of chosen.entries()) {
    onStart?.(i + 1, chosen.length, experiment.name);
    if (experiment.needsGo && go === undefined) {
      const why = `needs Go (${options.goMissing?.reason ?? "not measured"})`;
      rows.push(skippedRow(experiment, why));
      continue;
    }
    rows.push(await measure(experiment, go, end, options.goMissing?.reason));
  }
  return rows;
}

/**
 * How often a row measured beside Go is run when the figures differ. Some
 * cases are timing-sensitive on both sides (a 10 µs deadline can pass before
 * Go's own first write starts); a difference that holds on every attempt is
 * real.
 */
const ATTEMPTS = 3;

/**
 * Runs `experiment`, after its Go case when Go runs, and judges the row;
 * when it differs from the Go measured, runs both again, up to ATTEMPTS
 * times in all, while the budget lasts.
 */
async function measure(
  experiment: Experiment,
  go: GoCases | undefined,
  end: number,
  goMissing = "not measured",
): Promise<Row> {
  for (let attempt = 1;; attempt++) {
    const left = Math.floor(end - performance.now());
    const measured = experiment.goCase !== undefined && go !== undefined && left > 0
      ? await go.run(experiment.goCase, { again: attempt > 1 })
      : undefined;
    const ran = await runExperiment(
      experiment,
      Math.min(experiment.limitMs ?? DEFAULT_LIMIT_MS, Math.floor(end - performance.now())),
      go,
    );
    const row: Row = { ...judge(experiment, ran, measured, goMissing), attempts: attempt };
    const again = row.verdict === "differs" && measured !== undefined &&
      row.error === undefined && attempt < ATTEMPTS;
    if (again) continue;
    if (attempt > 1 && row.verdict === "differs") {
      row.why += ` (on each of ${attempt} attempts)`;
    } else if (attempt > 1) {
      row.netconn += ` [agreed with Go on attempt ${attempt} of ${ATTEMPTS}]`;
    }
    return row;
  }
}

/**
 * Runs one experiment in its own Lab, which is closed when the experiment
 * ends or when `limitMs` passes, whichever comes first. The row's verdict is
 * netconn's own ({@linkcode probe} sets it against Go).
 *
 * @param experiment The experiment.
 * @param limitMs Its time limit in milliseconds.
 * @param go Runs the Go peers of cross-runtime rows.
 * @returns Its row: the outcome, or why there is none.
 */
export async function runExperiment(
  experiment: Experiment,
  limitMs: number,
  go?: GoCases,
): Promise<Row> {
  const missing = (experiment.needs ?? []).filter((name) =>
    Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state !== "granted"
  );
  if (missing.length > 0) {
    return skippedRow(experiment, `needs ${missing.map((name) => `--allow-${name}`).join(" ")}`);
  }
  // Field order is the JSON's.
  const row = {
    case: experiment.name,
    go: experiment.go,
    goMeasured: false,
    netconn: "",
    raw: "",
  };
  const failed = (error: string, ms: number): Row => ({
    ...row,
    netconn: `failed: ${error}`,
    verdict: "differs",
    why: `failed: ${error}`,
    numbers: {},
    ok: false,
    ms,
    error,
  });
  if (limitMs <= 0) return { ...failed("out of time", 0), netconn: "not run" };
  const lab = new Lab(go);
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
    const outcome = await Promise.race([experiment.run(lab), timeUp]);
    const { netconn, raw = "", ok, numbers, tables, facts } = outcome;
    return {
      ...row,
      netconn,
      raw,
      verdict: ok ? "as Go" : "differs",
      why: ok ? "" : "netconn did not behave as Go's contract says",
      numbers,
      ...(facts === undefined ? {} : { facts }),
      ok,
      ms: elapsed(start),
      ...(tables === undefined ? {} : { tables }),
    };
  } catch (e) {
    return failed(e instanceof Error ? e.message : String(e), elapsed(start));
  } finally {
    clearTimeout(timer);
    await lab.close();
  }
}

/** The row of an experiment not run, and why. */
function skippedRow(experiment: Experiment, why: string): Row {
  return {
    case: experiment.name,
    go: experiment.go,
    goMeasured: false,
    netconn: `skipped: ${why}`,
    raw: "",
    verdict: "skipped",
    why,
    numbers: {},
    ok: true,
    ms: 0,
    skipped: true,
  };
}

/**
 * The row's verdict against Go: "differs" when netconn broke Go's contract
 * or, where Go was measured, the compared figures disagree; else "decision"
 * when the run shows a difference the docs decide; else "as Go" when Go was
 * measured and every compared figure agrees; else "documented" (compared
 * with what Go documents only). An unmeasured row is never "as Go".
 *
 * @param goMissing Why Go is not measured in this run, when it is not.
 */
export function judge(
  experiment: Experiment,
  row: Row,
  go: GoResult | undefined,
  goMissing = "not measured",
): Row {
  if (row.skipped || row.error !== undefined) return row;
  const measured = go !== undefined && go.error === undefined;
  const agreement = measured && experiment.compare !== undefined
    ? experiment.compare(go, row)
    : undefined;
  const judged: Row = {
    ...row,
    go: go === undefined
      ? row.go
      : measured
      ? go.text
      : `${row.go} (the Go run failed: ${go.error})`,
    goMeasured: measured,
    ...(agreement?.note === undefined ? {} : { compared: agreement.note }),
    ...(measured ? { goNumbers: go.numbers } : {}),
  };
  if (!row.ok) {
    const note = agreement?.agree === false ? ` (${agreement.note})` : "";
    return { ...judged, verdict: "differs", why: `${row.why}${note}` };
  }
  if (agreement !== undefined && !agreement.agree) {
    return { ...judged, verdict: "differs", why: agreement.note ?? "the figures differ" };
  }
  const decision = experiment.decision?.(row, measured ? go : undefined);
  if (decision !== undefined) return { ...judged, verdict: "decision", why: decision };
  if (agreement === undefined) {
    const why = experiment.goCase === undefined
      ? `no Go program: ${experiment.unmeasured ?? "none written"}`
      : go === undefined
      ? `Go not measured (${goMissing})`
      : `the Go run failed: ${go.error}`;
    return { ...judged, verdict: "documented", why };
  }
  if (agreement.documented !== undefined) {
    return { ...judged, verdict: "documented", why: agreement.documented };
  }
  return { ...judged, verdict: "as Go", why: agreement.note ?? "the compared figures agree" };
}

function elapsed(start: number): number {
  return Math.round(performance.now() - start);
}

/** Progress on stderr: one line per case, redrawn in place on a terminal. */
function progress(): {
  say(line: string): void;
  start(i: number, n: number, name: string): void;
  done(): void;
} {
  const encoder = new TextEncoder();
  const tty = Deno.stderr.isTerminal();
  const write = (text: string): void => {
    Deno.stderr.writeSync(encoder.encode(text));
  };
  return {
    say(line) {
      write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    },
    start(i, n, name) {
      write(tty ? `\r\x1b[Krunning ${i}/${n}: ${name}…` : `running ${i}/${n}: ${name}…\n`);
    },
    done() {
      if (tty) write("\r\x1b[K");
    },
  };
}

/** The widest table stdout can show: its terminal's width, or 100 when piped. */
function outputWidth(): number {
  if (!Deno.stdout.isTerminal()) return 100;
  try {
    const { columns } = Deno.consoleSize();
    return columns > 0 ? Math.max(40, columns) : 100;
  } catch {
    return 100;
  }
}

/** Builds Go unless told not to, saying on stderr what it does. */
async function setUpGo(
  skip: boolean,
  say: (line: string) => void,
): Promise<GoBuild | GoMissing> {
  if (skip) return { reason: "--no-go", remedy: "run without --no-go" };
  say("probe: looking for go and building go/probe (the first build takes a few seconds)…");
  const go = await buildGo("probe");
  if (isBuilt(go)) {
    const how = go.cached ? "cached build" : `built in ${(go.buildMs / 1000).toFixed(1)} s`;
    say(`probe: ${go.version} (${how})`);
  } else {
    say(`probe: Go not measured: ${go.reason}; to measure it, ${go.remedy}`);
  }
  return go;
}

const USAGE =
  "Usage: deno task probe [--json | --markdown] [--only=TEXT] [--no-go] [--sweep] [--write-docs]";

async function main(args: string[]): Promise<number> {
  const flags = new Set(args.filter((a) => !a.startsWith("--only=")));
  const onlyArg = args.find((a) => a.startsWith("--only="));
  const known = ["--json", "--markdown", "--sweep", "--no-go", "--write-docs", "--help"];
  if (flags.has("--help") || ![...flags].every((f) => known.includes(f))) {
    console.log(USAGE);
    return flags.has("--help") ? 0 : 2;
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
  const go = await setUpGo(flags.has("--no-go"), bar.say);
  const only = onlyArg?.slice("--only=".length);
  const rows = await probe({
    ...(only === undefined ? {} : { only }),
    sweep: flags.has("--sweep"),
    ...(isBuilt(go) ? { go: new GoRunner(go) } : { goMissing: go }),
    onStart: bar.start,
  });
  bar.done();
  const counts = count(rows);
  const top = caption(isBuilt(go) ? { version: go.version } : { missing: go });
  if (flags.has("--write-docs")) {
    const path = await writeDocs(rows, top, isBuilt(go) ? go.version : undefined, args);
    bar.say(`probe: wrote ${path}`);
  }
  if (flags.has("--json")) {
    console.log(JSON.stringify({ go: isBuilt(go) ? go : { missing: go }, counts, rows }, null, 2));
  } else if (flags.has("--markdown")) {
    console.log(markdownReport(rows, top));
  } else {
    const width = outputWidth();
    const tables = formatRowTables(rows, width);
    const parts = [wrapLines(top, width), formatTerminal(rows, width), tables];
    // The counts come last, after every table: what a terminal shows.
    console.log([...parts.filter((p) => p !== ""), wrapLines(summary(rows), width)].join("\n\n"));
  }
  return exitCode(counts, stray);
}

/**
 * Writes the run's Markdown form, with the machine named, to
 * docs/measured/probe.md.
 *
 * @returns The path written.
 */
function writeDocs(
  rows: Row[],
  top: string,
  goVersion: string | undefined,
  args: string[],
): Promise<string> {
  const flags = args.filter((a) => a !== "--write-docs" && a !== "--json" && a !== "--markdown");
  return writeMeasured("probe.md", {
    title: "The probe: Go's contract, measured",
    command: ["deno task probe --write-docs", ...flags].join(" "),
    machine: machine(goVersion),
    body: markdownReport(rows, top),
  });
}

/** The Markdown form: the caption, the table, the row tables, then the summary, counts last. */
function markdownReport(rows: Row[], top: string): string {
  const tables = formatRowTables(rows);
  return [top, formatMarkdown(rows), tables, summary(rows)].filter((p) => p !== "").join("\n\n");
}

/**
 * 0 when no row differs from Go without a decision (measured or against
 * Go's documentation), some row ran and nothing was left unhandled.
 */
export function exitCode(counts: Counts, stray = 0): number {
  const ran = counts.rows - counts.skipped;
  return counts.differ === 0 && ran > 0 && stray === 0 ? 0 : 1;
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
