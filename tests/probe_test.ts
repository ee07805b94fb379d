// The probe, run as a user runs it (a subprocess with the flags of
// `deno task probe`, with only --allow-net, with Go hidden from PATH), and
// its table, counts and experiment runner on their own.

import assert from "node:assert/strict";
import { ClosedError } from "../mod.ts";
import { exitCode, judge, probe, type Row as ProbeRow, runExperiment } from "../probe/main.ts";
import type { GoCases, GoResult } from "../probe/_go.ts";
import type { Experiment } from "../probe/_lab.ts";
import { experiments } from "../probe/cases.ts";
import {
  count,
  countsLine as formatCounts,
  fitColumns,
  formatMarkdown,
  formatTerminal,
  summary,
  type TableRow,
  wrap,
} from "../probe/_table.ts";

const PROBE = new URL("../probe/main.ts", import.meta.url).pathname;

interface Row extends TableRow {
  numbers: Record<string, unknown>;
  facts?: Record<string, string>;
  goNumbers?: Record<string, unknown>;
  ok: boolean;
  ms: number;
  skipped?: boolean;
  tables?: { title: string; head: string[]; rows: string[][] }[];
}

interface Report {
  go: { version?: string; buildMs?: number; missing?: { reason: string; remedy: string } };
  counts: {
    rows: number;
    measured: number;
    asGo: number;
    documented: number;
    decisions: number;
    differ: number;
    skipped: number;
  };
  rows: Row[];
}

/** The permissions `deno task probe` grants. */
const TASK_FLAGS = [
  "--allow-net",
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env",
];

/** The rows that run a Go peer. */
const CROSS = experiments.filter((e) => e.needsGo).map((e) => e.name);

/** Runs the probe with these permission flags, `args` and env, killing it after a minute. */
async function runProbe(
  flags: string[],
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const start = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, PROBE, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = new TextDecoder();
  const seconds = (performance.now() - start) / 1000;
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
    seconds,
  };
}

/** Whether `go` runs here. */
async function haveGo(): Promise<boolean> {
  try {
    return (await new Deno.Command("go", { args: ["version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

/** The counts line, the output's last, as numbers. */
function countsLine(text: string): {
  rows: number;
  measured: number;
  documented: number;
  skipped: number;
} {
  // The line may be wrapped to the table's width; it is the last.
  const last = text.trimEnd().split("\n\n").at(-1)!.replace(/\s+/g, " ");
  const m = last.match(
    /^(\d+) rows: (\d+) measured beside Go(?: \([^)]*\))?, (\d+) against Go's documentation(?: \([^)]*\))?, (\d+) skipped\.$/,
  );
  assert.ok(m, `no counts line last in:\n${text}`);
  return { rows: +m[1]!, measured: +m[2]!, documented: +m[3]!, skipped: +m[4]! };
}

/** The counts add up, both ways. */
function assertCountsAddUp(counts: Report["counts"], rows: Row[]): void {
  assert.equal(counts.measured + counts.documented + counts.skipped, counts.rows);
  const documentedVerdicts = rows.filter((r) => r.verdict === "documented").length;
  assert.equal(
    counts.asGo + counts.decisions + counts.differ + documentedVerdicts + counts.skipped,
    counts.rows,
  );
  // An unmeasured row never counts as "as Go".
  for (const r of rows) {
    if (r.verdict === "as Go") assert.ok(r.goMeasured, `${r.case} is "as Go" unmeasured`);
  }
}

Deno.test("probe as `deno task probe` runs it: every row, Go measured beside netconn", async (t) => {
  const { code, stdout, stderr, seconds } = await runProbe(TASK_FLAGS, ["--json"]);
  const report = JSON.parse(stdout) as Report;
  const rows = new Map(report.rows.map((r) => [r.case, r]));
  assert.deepEqual([...rows.keys()], experiments.map((e) => e.name));
  assert.ok(seconds < 60, `the probe took ${seconds.toFixed(1)} s`);
  for (const [i, e] of experiments.entries()) {
    assert.ok(stderr.includes(`running ${i + 1}/${experiments.length}: ${e.name}`), stderr);
  }
  for (const row of report.rows.filter((r) => r.verdict !== "skipped")) {
    const numbers = Object.entries(row.numbers);
    assert.ok(numbers.length > 0, `row "${row.case}" carries numbers`);
    for (const [name, value] of numbers) {
      assert.ok(Number.isFinite(value), `row "${row.case}": ${name} is a number, got ${value}`);
    }
  }
  const { counts } = report;
  assertCountsAddUp(counts, report.rows);
  assert.equal(counts.rows, experiments.length);
  assert.ok(seconds < 30, `the probe took ${seconds.toFixed(1)} s`);
  for (const row of report.rows) assert.ok(row.why !== "", `${row.case} says why`);
  // close() twice is a decision: counted as a difference, not as agreement.
  assert.equal(rows.get("close: twice")!.verdict, "decision");
  assert.match(rows.get("close: twice")!.why, /idempotent/);

  const go = await haveGo();
  if (!go) {
    console.log("go is not on PATH: the Go column is not measured here (skipping that part)");
    assert.match(report.go.missing?.reason ?? "", /go is not on PATH/);
    for (const name of CROSS) assert.equal(rows.get(name)!.verdict, "skipped", name);
  }
  await t.step({
    name: "with Go: measured figures beside netconn's, and they agree",
    ignore: !go,
    fn() {
      assert.match(report.go.version ?? "", /^go version go1\.\d+/);
      assert.ok((report.go.buildMs ?? -1) >= 0);
      for (const e of experiments) {
        const row = rows.get(e.name)!;
        // A decision row may agree with another Go version; close() twice never does.
        // Go before 1.23 has no KeepAliveConfig: that row is compared with Go's documentation.
        const expected = e.decision !== undefined
          ? ["decision", "as Go"]
          : e.name === "option: setKeepAliveConfig"
          ? ["as Go", "documented"]
          : ["as Go"];
        const text = `${e.name}: ${row.why}\n${row.netconn}\n${row.go}`;
        assert.ok(expected.includes(row.verdict), `${row.verdict}: ${text}`);
        assert.equal(row.goMeasured, e.goCase !== undefined, `${e.name} measured Go`);
        if (e.goCase !== undefined) {
          assert.ok(Object.keys(row.goNumbers ?? {}).length > 0, `${e.name} has Go's numbers`);
        }
      }
      // Every row has a Go program now.
      assert.deepEqual(experiments.filter((e) => e.goCase === undefined).map((e) => e.name), []);
      assert.equal(counts.skipped, 0);
      const decisions = report.rows.filter((r) => r.verdict === "decision").length;
      assert.ok(decisions >= 1);
      assert.equal(counts.decisions, decisions);
      assert.equal(counts.differ, 0);
      assert.ok(counts.measured >= experiments.length - 1, `${counts.measured} measured`);
      assert.equal(code, 0, stderr);
      // Error kinds are compared: Go's partial write ends with the reset.
      assert.equal(rows.get("partial write, peer dies")!.facts?.error !== undefined, true);
      // The article's figures, Go's and netconn's side by side.
      const blocking = rows.get("write blocking")!;
      const ours = blocking.numbers.accepted as number;
      const theirs = blocking.goNumbers!.accepted as number;
      assert.ok(ours > 64 * 1024 && Math.abs(ours - theirs) <= theirs / 10, `${ours} vs ${theirs}`);
      const cross = rows.get("write timeout: netconn client → Go server")!;
      assert.equal(
        cross.numbers.received,
        (cross.numbers.total as number) +
          (cross.numbers.settled as number),
      );
    },
  });
});

Deno.test("probe with only --allow-net: honest counts, skips named, NoDelay without FFI", async () => {
  const { code, stdout, stderr } = await runProbe(["--allow-net"], ["--json"]);
  const report = JSON.parse(stdout) as Report;
  assert.match(report.go.missing?.reason ?? "", /^building Go needs --allow-run/);
  // Rows that need more than --allow-net: socket options (ffi), TLS certs and unix sockets (read, write).
  const needsFfi = experiments.filter((e) => (e.needs?.length ?? 0) > 0).map((e) => e.name);
  for (const row of report.rows) {
    const e = experiments.find((e) => e.name === row.case)!;
    // Nothing is measured beside Go here: no row can be "as Go".
    const expected = needsFfi.includes(row.case) || CROSS.includes(row.case)
      ? ["skipped"]
      : row.case === "close: twice"
      ? ["decision"]
      : e.decision !== undefined
      ? ["decision", "documented"]
      : ["documented"];
    assert.ok(expected.includes(row.verdict), `${row.case}: ${row.verdict}: ${row.why}`);
    assert.equal(row.goMeasured, false);
    if (row.verdict === "skipped") {
      assert.match(
        row.why,
        CROSS.includes(row.case) ? /^needs Go \(/ : /^needs --allow-(ffi|read)/,
      );
    }
  }
  const decisions = report.rows.filter((r) => r.verdict === "decision").length;
  // A cross-runtime row may need a permission too (the STARTTLS row reads the certificates).
  const skipped = new Set([...needsFfi, ...CROSS]).size;
  assert.deepEqual(report.counts, {
    rows: experiments.length,
    measured: 0,
    asGo: 0,
    documented: experiments.length - skipped,
    decisions,
    differ: 0,
    skipped,
  });
  assertCountsAddUp(report.counts, report.rows);
  assert.equal(code, 0, stderr);
  // NoDelay needs no FFI: it runs, by timing.
  const noDelay = report.rows.find((r) => r.case === "option: NoDelay")!;
  assert.match(noDelay.netconn, /^by timing/);
  assert.deepEqual(noDelay.numbers, { dialed: 1, accepted: 1, afterFalse: 0, afterTrue: 1 });
});

Deno.test("probe's table, piped: within 100 columns, the counts and what differs under it", async () => {
  const { code, stdout, stderr } = await runProbe(["--allow-net"], ["--no-go"]);
  const lines = stdout.split("\n");
  for (const line of lines) assert.ok(line.length <= 100, `${line.length} wide: ${line}`);
  assert.match(lines[0]!, /^Go column: what Go documents, not measured \(--no-go\)/);
  assert.ok(lines.some((l) => l.startsWith("| write blocking ")), "a row per case");
  const c = countsLine(stdout);
  assert.equal(c.rows, experiments.length);
  assert.equal(c.measured, 0);
  assert.equal(c.measured + c.documented + c.skipped, c.rows);
  // The sweep's tables come before the summary, and the counts line is the last.
  assert.ok(stdout.indexOf("Skipped:") > stdout.indexOf("| write blocking "));
  assert.match(
    stdout,
    /\nDiffer from Go by a decision[^\n]*\n(- [^\n]*\n( {2}[^\n]*\n)*)*- close: twice: close\(\) is idempotent/,
  );
  assert.match(stdout, /\n- needs --allow-ffi: option: keepalive defaults; /);
  assert.match(stdout, /\n- needs Go \(--no-go\): write blocking: netconn client → Go server; /);
  // Exit 0 exactly when no row differs without a decision.
  assert.equal(code, stdout.includes("Differ from Go, not as") ? 1 : 0, stderr);
});

Deno.test("probe without go on PATH: runs, says how to measure Go, skips the cross rows", async () => {
  const { code, stdout, stderr } = await runProbe(TASK_FLAGS, ["--json", "--only=write"], {
    PATH: "/nonexistent",
  });
  assert.match(stderr, /apt-get install golang-go/);
  const report = JSON.parse(stdout) as Report;
  assert.equal(report.go.missing?.reason, "go is not on PATH");
  const rows = new Map(report.rows.map((r) => [r.case, r]));
  assert.equal(code, 0, stderr);
  for (const row of rows.values()) {
    const decision = experiments.find((e) => e.name === row.case)!.decision !== undefined;
    const expected = CROSS.includes(row.case)
      ? ["skipped"]
      : decision
      ? ["decision", "documented"]
      : ["documented"];
    assert.ok(expected.includes(row.verdict), `${row.case}: ${row.verdict}: ${row.why}`);
    assert.equal(row.goMeasured, false);
  }
  const num = (c: string, n: string): number => rows.get(c)!.numbers[n] as number;
  // A write blocks once the socket buffers are full: some but not unbounded bytes.
  assert.ok(num("write blocking", "accepted") > 64 * 1024);
  assert.ok(num("write blocking", "timedOutBytesWritten") < 64 * 1024);
  // The peer died part-way: the count is partial and true.
  const written = num("partial write, peer dies", "bytesWritten");
  assert.ok(written > 0 && written < num("partial write, peer dies", "requested"));
  // A timed-out write: the peer got the full writes plus the settled count, no more, no less.
  assert.equal(
    num("write timeout", "received"),
    num("write timeout", "total") + num("write timeout", "settled"),
  );
});

Deno.test("probe --markdown: the full text as one Markdown table; bad flags exit 2", async () => {
  const md = await runProbe(["--allow-net"], ["--markdown", "--no-go", "--only=dial"]);
  assert.equal(md.code, 0, md.stderr);
  const lines = md.stdout.split("\n");
  assert.match(lines[0]!, /^Go column: what Go documents, not measured \(--no-go\)/);
  assert.match(lines[2]!, /^\| case +\| Go +\| netconn +\| as Go\? +\|$/);
  const dials = experiments.filter((e) => e.name.includes("dial"));
  const body = lines.slice(4, 4 + dials.length);
  assert.ok(body.every((l) => l.endsWith("| documented |")), body.join("\n"));
  assert.equal(
    md.stdout.trimEnd().split("\n").at(-1),
    `${dials.length} rows: 0 measured beside Go, ${dials.length} against Go's documentation, ` +
      "0 skipped.",
  );

  const bad = await runProbe(["--allow-net"], ["--frobnicate"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /Usage/);
});

/** Rows for the formatters, one of each verdict, with long cells. */
function sampleRows(): TableRow[] {
  const long = "the quick brown fox jumps over the lazy dog ".repeat(6).trim();
  return [
    {
      case: "write blocking",
      go: long,
      goMeasured: true,
      netconn: long,
      raw: "",
      verdict: "as Go",
      why: "",
    },
    {
      case: "close: twice",
      go: "second Close → error",
      goMeasured: true,
      netconn: "quiet",
      raw: "r",
      verdict: "decision",
      why: "close() is idempotent",
    },
    {
      case: "a case with a rather long name indeed",
      go: "documented",
      goMeasured: false,
      netconn: `x${"y".repeat(150)}`,
      raw: "",
      verdict: "differs",
      why: "full writes: Go 3 MiB, netconn 0 B",
    },
    {
      case: "option: linger",
      go: "documented",
      goMeasured: false,
      netconn: "skipped: needs --allow-ffi",
      raw: "",
      verdict: "skipped",
      why: "needs --allow-ffi",
    },
    {
      case: "option: keepalive config",
      go: "SetKeepAliveConfig",
      goMeasured: false,
      netconn: "on 5 s / 2 s / 3",
      raw: "",
      verdict: "documented",
      why: "Go not measured (--no-go)",
    },
  ];
}

Deno.test("formatTerminal: fits the width, wraps every cell without losing a word", () => {
  const rows = sampleRows();
  for (const width of [100, 80, 60]) {
    const table = formatTerminal(rows, width);
    const lines = table.split("\n");
    for (const line of lines) assert.ok(line.length <= width, `${line.length} > ${width}: ${line}`);
    // Every line has the same column borders.
    const borders = (l: string): number[] => [...l].flatMap((ch, i) => ch === "|" ? [i] : []);
    for (const line of lines) assert.deepEqual(borders(line), borders(lines[0]!), line);
    // The Go column's words of the first row come back in order.
    const goCells = lines.slice(2, lines.indexOf(lines[1]!, 2)).map((l) => l.split("|")[2]!.trim());
    assert.equal(goCells.join(" ").replace(/\s+/g, " "), rows[0]!.go);
    assert.ok(goCells.length > 1, "the long cell wrapped");
  }
  assert.match(formatTerminal(rows, 400), /documented \[not measured\]/);
  // A table that fits is not wrapped.
  const short = formatTerminal([rows[1]!], 100).split("\n");
  assert.equal(short.length, 3);
  assert.ok(short[0]!.length < 100);
});

Deno.test("wrap and fitColumns: words kept, long words cut, widths sum to the room", () => {
  assert.deepEqual(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
  assert.deepEqual(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
  assert.deepEqual(wrap("", 4), [""]);
  assert.deepEqual(fitColumns([4, 10, 6], 40), [4, 10, 6]);
  const widths = fitColumns([20, 200, 300, 8], 100);
  assert.equal(widths.reduce((a, b) => a + b, 0) + 3 * 4 + 1, 100);
  assert.equal(widths[0], 20);
  assert.equal(widths[3], 8);
  assert.ok(Math.abs(widths[1]! - widths[2]!) <= 1, `${widths}`);
});

Deno.test("count and summary: grouped by verdict, the counts line last", () => {
  const rows = sampleRows();
  assert.deepEqual(count(rows), {
    rows: 5,
    measured: 2,
    asGo: 1,
    documented: 2,
    decisions: 1,
    differ: 1,
    skipped: 1,
  });
  assert.equal(
    summary(rows),
    [
      "Differ from Go, not as Go's contract says (these fail the probe):",
      "- a case with a rather long name indeed: full writes: Go 3 MiB, netconn 0 B",
      "",
      "Differ from Go by a decision (docs/probe.md):",
      "- close: twice: close() is idempotent",
      "",
      "Compared with Go's documentation only:",
      "- option: keepalive config: Go not measured (--no-go)",
      "",
      "Skipped:",
      "- needs --allow-ffi: option: linger",
      "",
      "5 rows: 2 measured beside Go (1 as Go, 1 by decision), 2 against Go's documentation " +
      "(1 differ), 1 skipped.",
    ].join("\n"),
  );
  assert.equal(
    summary([rows[0]!]),
    "1 rows: 1 measured beside Go (1 as Go), 0 against Go's documentation, 0 skipped.",
  );
  assert.equal(
    formatCounts([]),
    "0 rows: 0 measured beside Go, 0 against Go's documentation, 0 skipped.",
  );
  // Exit 0 only when no row differs without a decision.
  assert.equal(exitCode(count(rows)), 1);
  assert.equal(exitCode(count(rows.filter((r) => r.verdict !== "differs"))), 0);
  assert.equal(exitCode(count([rows[3]!])), 1, "nothing ran");
  const md = formatMarkdown(rows).split("\n");
  assert.match(md[0]!, /^\| case +\| Go +\| netconn +\| raw Deno \| as Go\? +\|$/);
  assert.equal(md.length, 2 + rows.length);
  assert.ok(md[2]!.includes(rows[0]!.go), "Markdown keeps the full text");
  assert.match(md.at(-1)!, /\| documented \|$/);
});

/** A row netconn measured (the judge's input): ok, with these numbers and facts. */
function ranRow(
  name: string,
  numbers: Record<string, number>,
  facts?: Record<string, string>,
): ProbeRow {
  return {
    case: name,
    go: "what Go documents",
    goMeasured: false,
    netconn: "ran",
    raw: "",
    verdict: "as Go",
    why: "",
    numbers,
    ...(facts === undefined ? {} : { facts }),
    ok: true,
    ms: 1,
  };
}

function goSaid(numbers: Record<string, number>, facts?: Record<string, string>): GoResult {
  return { case: "stub", text: "Go measured", numbers, ...(facts === undefined ? {} : { facts }) };
}

Deno.test("judge: 'as Go' only when Go was measured and every figure agrees", () => {
  const measuredCase: Experiment = { ...tenBytes };
  const row = ranRow("ten bytes", { n: 10 });
  // Measured, agreeing: as Go, and why says what was compared.
  const asGo = judge(measuredCase, row, goSaid({ n: 10 }));
  assert.deepEqual([asGo.verdict, asGo.goMeasured], ["as Go", true]);
  assert.notEqual(asGo.why, "");
  // No Go program: documented, never as Go, and the row says why.
  const noProgram: Experiment = {
    name: "no program",
    go: "documented",
    unmeasured: "Go cannot do it",
    run: tenBytes.run,
  };
  const doc = judge(noProgram, row, undefined);
  assert.deepEqual([doc.verdict, doc.goMeasured, doc.why], [
    "documented",
    false,
    "no Go program: Go cannot do it",
  ]);
  // A Go program, but Go not measured in this run, or its run failed: documented.
  assert.deepEqual(
    [
      judge(measuredCase, row, undefined, "--no-go").verdict,
      judge(measuredCase, row, undefined, "--no-go").why,
    ],
    ["documented", "Go not measured (--no-go)"],
  );
  const failed = judge(measuredCase, row, { ...goSaid({}), error: "boom" });
  assert.deepEqual([failed.verdict, failed.goMeasured], ["documented", false]);
  // Measured in part (an API the Go lacks): documented, with why.
  const partly: Experiment = {
    ...tenBytes,
    compare: () => ({ agree: true, documented: "Go 1.19 lacks it" }),
  };
  const part = judge(partly, row, goSaid({ n: 10 }));
  assert.deepEqual([part.verdict, part.why, part.goMeasured], [
    "documented",
    "Go 1.19 lacks it",
    true,
  ]);
  assert.equal(count([part]).documented, 1);
  // netconn broke the contract: differs, measured or not.
  assert.equal(judge(noProgram, { ...row, ok: false }, undefined).verdict, "differs");
});

Deno.test("judge: error kinds are compared exactly; a reset is not a broken pipe", () => {
  const peerClose = experiments.find((e) => e.name === "close: peer side")!;
  const row = ranRow("close: peer side", { eof: 1, writesBeforeError: 1 }, {
    error: "broken-pipe",
  });
  const same = judge(
    peerClose,
    row,
    goSaid({ eof: 1, writesBeforeError: 1 }, { error: "broken-pipe" }),
  );
  assert.equal(same.verdict, "as Go");
  const other = judge(peerClose, row, goSaid({ eof: 1, writesBeforeError: 1 }, { error: "reset" }));
  assert.equal(other.verdict, "differs");
  assert.match(other.why, /error: Go reset, netconn broken-pipe/);
  // The partial write: broken-pipe where Go says reset is the decision's, with its reason.
  const partial = experiments.find((e) => e.name === "partial write, peer dies")!;
  const numbers = { bytesWritten: 3_900_000, requested: 32 << 20 };
  const decided = judge(
    partial,
    ranRow(partial.name, numbers, { error: "broken-pipe", againstGo: "reset" }),
    goSaid({ bytesWritten: 3_900_000 }, { error: "reset" }),
  );
  assert.equal(decided.verdict, "decision");
  assert.match(decided.why, /FIN/);
  // Against a Go peer netconn must say reset too; else the row differs.
  const wrong = judge(
    partial,
    ranRow(partial.name, numbers, { error: "broken-pipe", againstGo: "broken-pipe" }),
    goSaid({ bytesWritten: 3_900_000 }, { error: "reset" }),
  );
  assert.equal(wrong.verdict, "differs");
});

Deno.test("judge: server STARTTLS is as Go on a tls refusal, a decision on busy, else differs", () => {
  const row = experiments.find((e) => e.name === "tls: server STARTTLS, Go client")!;
  const figures = {
    serverHandshake: 1,
    clientHandshake: 1,
    serverReceived: 65_536,
    serverIntact: 1,
    received: 65_536,
    intact: 1,
    verified: 0,
    peerCertificates: 0,
    clientVerified: 1,
    injectedHandshake: 0,
    injectedClientHandshake: 0,
  };
  const facts = {
    version: "TLSv1.3",
    alpn: "netconn-probe",
    cipherSuite: "TLS_AES_128_GCM_SHA256",
    serverAfterClose: "eof",
    injected: "tls",
    injectedClient: "eof",
  };
  const go = goSaid(figures, facts);
  const verdict = (ours: Record<string, string>): ProbeRow =>
    judge(row, ranRow(row.name, figures, { ...facts, ...ours }), go);
  assert.equal(verdict({}).verdict, "as Go");
  // The pipelining client's own error is a race: shown, not compared.
  assert.equal(verdict({ injectedClient: "reset" }).verdict, "as Go");
  const busy = verdict({ injected: "busy" });
  assert.equal(busy.verdict, "decision");
  assert.match(busy.why, /kind busy/);
  assert.equal(verdict({ injected: "other" }).verdict, "differs");
  assert.equal(verdict({ alpn: "" }).verdict, "differs");
  // Unmeasured, it is never as Go.
  assert.equal(judge(row, ranRow(row.name, figures, facts), undefined).verdict, "documented");
});

Deno.test("judge: the same outcome gets the same verdict on every transport", () => {
  const by = (name: string): Experiment => experiments.find((e) => e.name === name)!;
  const timeout = { aheadUs: 10, fullWrites: 59, total: 3_866_624, bytesWritten: 44_032 };
  const stranded = { ...timeout, settled: 65_536, received: 3_866_624 + 65_536, intact: 1 };
  const go = goSaid({ ...timeout, received: 3_866_624 + 44_032 }, { error: "timeout" });
  const verdicts = ["write timeout", "tls: write timeout", "unix: write timeout"].map((name) =>
    judge(by(name), ranRow(name, stranded, { error: "timeout" }), go).verdict
  );
  assert.deepEqual(verdicts, ["decision", "decision", "decision"]);
  const settledAsGo = { ...stranded, settled: 44_032, received: 3_866_624 + 44_032 };
  assert.deepEqual(
    ["write timeout", "tls: write timeout", "unix: write timeout"].map((name) =>
      judge(by(name), ranRow(name, settledAsGo, { error: "timeout" }), go).verdict
    ),
    ["as Go", "as Go", "as Go"],
  );
  const blocking = { accepted: 3_900_000, fullWrites: 59, timedOutBytesWritten: 1, waitMs: 200 };
  assert.deepEqual(
    ["write blocking", "tls: write blocking", "unix: write blocking"].map((name) =>
      judge(
        by(name),
        ranRow(name, blocking, { error: "timeout" }),
        goSaid(blocking, {
          error: "timeout",
        }),
      ).verdict
    ),
    ["as Go", "as Go", "as Go"],
  );
});

/** A stand-in for Go that answers each run of a case with the next of `answers`. */
function fakeGo(answers: number[]): GoCases & { runs: number } {
  const go = {
    runs: 0,
    run(goCase: string): Promise<GoResult> {
      const n = answers[Math.min(go.runs++, answers.length - 1)]!;
      return Promise.resolve({ case: goCase, text: `Go got ${n}`, numbers: { n } });
    },
    spawn(): never {
      throw new Error("no peers here");
    },
  };
  return go;
}

/** An experiment measured beside the stand-in: netconn always gets 10. */
const tenBytes: Experiment = {
  name: "ten bytes",
  go: "Read returns 10",
  goCase: "ten",
  compare: (go, ours) =>
    go.numbers.n === ours.numbers.n
      ? { agree: true }
      : { agree: false, note: `n: Go ${go.numbers.n}, netconn ${ours.numbers.n}` },
  run: () => Promise.resolve({ netconn: "read → 10", numbers: { n: 10 }, ok: true }),
};

Deno.test("probe: a row that differs from Go is measured again, and says so", async () => {
  // Go disagrees once, then agrees: the row agrees, on attempt 2.
  const once = fakeGo([9, 10]);
  const [agreed] = await probe({ experiments: [tenBytes], go: once });
  assert.equal(agreed!.verdict, "as Go");
  assert.equal(agreed!.attempts, 2);
  assert.equal(once.runs, 2);
  assert.equal(agreed!.go, "Go got 10");
  assert.match(agreed!.netconn, /\[agreed with Go on attempt 2 of 3\]$/);
  // Go disagrees every time: the row differs after 3 attempts, and says why.
  const always = fakeGo([9]);
  const [differs] = await probe({ experiments: [tenBytes], go: always });
  assert.equal(differs!.verdict, "differs");
  assert.equal(always.runs, 3);
  assert.equal(differs!.why, "n: Go 9, netconn 10 (on each of 3 attempts)");
  // Agreement at once: one run, nothing added.
  const first = fakeGo([10]);
  const [plain] = await probe({ experiments: [tenBytes], go: first });
  assert.deepEqual([plain!.verdict, plain!.attempts, first.runs, plain!.netconn], [
    "as Go",
    1,
    1,
    "read → 10",
  ]);
  // A decision: the compared figures agree, and the run shows the difference decided on.
  const decided: Experiment = {
    ...tenBytes,
    compare: () => ({ agree: true }),
    decision: (ours, go) =>
      go !== undefined && go.numbers.n !== ours.numbers.n
        ? "netconn reads 10 on purpose"
        : undefined,
  };
  const [decision] = await probe({ experiments: [decided], go: fakeGo([9]) });
  assert.deepEqual([decision!.verdict, decision!.why, decision!.attempts], [
    "decision",
    "netconn reads 10 on purpose",
    1,
  ]);
  const [same] = await probe({ experiments: [decided], go: fakeGo([10]) });
  assert.equal(same!.verdict, "as Go");
});

Deno.test("runExperiment: a hung experiment is cut at its limit and what it opened is closed", async () => {
  let pending: Promise<unknown> | undefined;
  const start = performance.now();
  const row = await runExperiment({
    name: "hangs",
    go: "-",
    async run(lab) {
      const { server } = await lab.pair();
      pending = server.read(new Uint8Array(8)).catch((e) => e);
      await pending;
      return { netconn: "returned", numbers: {}, ok: true };
    },
  }, 200);
  const ms = performance.now() - start;
  assert.equal(row.ok, false);
  assert.equal(row.verdict, "differs");
  assert.match(row.error ?? "", /did not finish within 200 ms/);
  assert.ok(ms >= 190 && ms < 2000, `took ${ms} ms`);
  assert.ok((await pending) instanceof ClosedError, "the lab closed the conn under the read");
});

Deno.test("runExperiment: a throwing experiment fails its row with the message", async () => {
  const row = await runExperiment({
    name: "throws",
    go: "-",
    run() {
      return Promise.reject(new Error("boom"));
    },
  }, 1000);
  assert.equal(row.ok, false);
  assert.equal(row.error, "boom");
  assert.equal(row.netconn, "failed: boom");
});

Deno.test({
  name: "runExperiment: a row that needs a missing permission is skipped, not failed",
  permissions: { net: true, sys: false },
  async fn() {
    let ran = false;
    const row = await runExperiment({
      name: "needs sys",
      go: "-",
      needs: ["sys"],
      run() {
        ran = true;
        return Promise.resolve({ netconn: "ran", numbers: {}, ok: true });
      },
    }, 1000);
    assert.equal(ran, false);
    assert.equal(row.verdict, "skipped");
    assert.equal(row.skipped, true);
    assert.match(row.netconn, /needs --allow-sys/);
  },
});
