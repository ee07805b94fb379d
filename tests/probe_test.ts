// The probe, run as a user runs it: a subprocess with only --allow-net, and
// with the flags of `deno task probe`.

import assert from "node:assert/strict";
import { ClosedError } from "../mod.ts";
import { runExperiment } from "../probe.ts";
import { experiments } from "../probe/cases.ts";

const PROBE = new URL("../probe.ts", import.meta.url).pathname;

interface Row {
  case: string;
  go: string;
  netconn: string;
  raw: string;
  numbers: Record<string, unknown>;
  ok: boolean;
  ms: number;
  skipped?: boolean;
  tables?: { title: string; head: string[]; rows: string[][] }[];
}

/** The permissions `deno task probe` grants. */
const TASK_FLAGS = ["--allow-net", "--allow-ffi", "--allow-read"];

/** Runs the probe with `args` and only --allow-net, killing it after a minute. */
function runProbe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProbeWith(["--allow-net"], ...args);
}

/** Runs the probe with these permission flags and `args`, killing it after a minute. */
async function runProbeWith(
  flags: string[],
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 60_000);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, PROBE, ...args],
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("probe --json: every case has a row that behaves as in Go, with numbers", async () => {
  const start = performance.now();
  const { code, stdout, stderr } = await runProbe("--json");
  const seconds = (performance.now() - start) / 1000;
  const rows = JSON.parse(stdout) as Row[];
  assert.ok(Array.isArray(rows), "stdout is a JSON array");
  assert.deepEqual(rows.map((r) => r.case), experiments.map((e) => e.name));
  for (const row of rows) {
    assert.equal(row.ok, true, `row "${row.case}" is not ok: ${row.netconn}\n${stderr}`);
    assert.ok(row.go.length > 0, `row "${row.case}" says what Go does`);
    assert.ok(row.netconn.length > 0, `row "${row.case}" says what happened`);
    const needs = experiments.find((e) => e.name === row.case)?.needs ?? [];
    assert.equal(row.skipped === true, needs.length > 0, `row "${row.case}" skipped`);
    if (row.skipped) {
      assert.match(row.netconn, /needs --allow-ffi/);
      continue;
    }
    const numbers = Object.entries(row.numbers);
    assert.ok(numbers.length > 0, `row "${row.case}" carries numbers`);
    for (const [name, value] of numbers) {
      assert.ok(Number.isFinite(value), `row "${row.case}": ${name} is a number, got ${value}`);
    }
  }
  assert.equal(code, 0, stderr);
  assert.ok(seconds < 60, `the probe took ${seconds.toFixed(1)} s`);
  // Progress went to stderr, one line per case when it is not a terminal.
  for (const [i, e] of experiments.entries()) {
    assert.ok(stderr.includes(`running ${i + 1}/${experiments.length}: ${e.name}`), stderr);
  }
});

Deno.test("probe: the numbers are the article's, measured", async () => {
  const { stdout } = await runProbe("--json", "--only=write");
  const rows = new Map((JSON.parse(stdout) as Row[]).map((r) => [r.case, r]));
  const num = (c: string, n: string): number => rows.get(c)!.numbers[n] as number;
  // A write blocks once the socket buffers are full: some but not unbounded bytes.
  assert.ok(num("write blocking", "accepted") > 64 * 1024);
  assert.ok(num("write blocking", "accepted") < 512 * 1024 * 1024);
  assert.ok(num("write blocking", "timedOutBytesWritten") < 64 * 1024);
  // The peer died part-way: the count is partial and true.
  const written = num("partial write, peer dies", "bytesWritten");
  assert.ok(written > 0 && written < num("partial write, peer dies", "requested"));
  // A timed-out write: the peer got the full writes plus the settled count, no more, no less.
  assert.equal(
    num("write timeout", "received"),
    num("write timeout", "total") + num("write timeout", "settled"),
  );
  assert.equal(num("write success", "returned"), num("write success", "requested"));
});

Deno.test("probe with --allow-ffi: every row runs, the socket options read back as in Go", async () => {
  const { code, stdout, stderr } = await runProbeWith(TASK_FLAGS, "--json");
  const rows = new Map((JSON.parse(stdout) as Row[]).map((r) => [r.case, r]));
  assert.deepEqual([...rows.keys()], experiments.map((e) => e.name));
  for (const row of rows.values()) {
    assert.equal(row.ok, true, `row "${row.case}" is not ok: ${row.netconn}\n${stderr}`);
    assert.notEqual(row.skipped, true, `row "${row.case}" ran`);
  }
  assert.equal(code, 0, stderr);
  const num = (c: string, n: string): number => rows.get(c)!.numbers[n] as number;
  assert.equal(num("option: keepalive defaults", "dialedIdle"), 15_000);
  assert.equal(num("option: keepalive defaults", "acceptedCount"), 9);
  assert.ok(
    num("option: setLinger(0), close", "read") < num("option: setLinger(0), close", "accepted"),
  );
  assert.equal(num("listen: default backlog", "somaxconn") > 0, true);
  // The sweep: the default threshold is megabytes here; 16 KiB buffers cut it to kilobytes.
  const sweep = rows.get("write-block threshold sweep")!;
  const normal = num(sweep.case, "snd default rcv default noDelay on");
  const small = num(sweep.case, "snd 16384 rcv 16384 noDelay on");
  assert.ok(normal > 1024 * 1024, `default threshold ${normal}`);
  assert.ok(small > 0 && small < normal / 4, `16 KiB threshold ${small}`);
  assert.equal(sweep.tables?.length, 2, "a grid for NoDelay on and one for off");
  for (const table of sweep.tables!) {
    assert.equal(table.head.length, 7);
    assert.equal(table.rows.length, 6);
  }
});

Deno.test("probe: a table by default, --only filters, bad flags exit 2", async () => {
  const table = await runProbe("--only=dial");
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split("\n");
  assert.match(lines[0]!, /^\| case +\| Go +\| netconn \(measured here\)/);
  assert.equal(lines.length, 2 + experiments.filter((e) => e.name.includes("dial")).length);
  assert.ok(lines.slice(2).every((l) => l.includes("dial") && l.endsWith("| yes |")));
  assert.match(table.stderr, /of \d+ rows behave as in Go/);

  const bad = await runProbe("--frobnicate");
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /Usage/);
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
    assert.equal(row.ok, true);
    assert.equal(row.skipped, true);
    assert.match(row.netconn, /needs --allow-sys/);
  },
});
