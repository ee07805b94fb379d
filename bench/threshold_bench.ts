// Write-block thresholds: bytes a writer can hand to a conn whose peer never
// reads before `write` blocks, for each sender SO_SNDBUF x receiver SO_RCVBUF
// (the OS default, then 16 KiB to 4 MiB by 4x), NoDelay on and off, through
// netconn (`setWriteBuffer` / `setReadBuffer`, after connecting, as in Go).
//
//   deno task bench                                   # with the whole suite
//   deno bench --allow-net --allow-ffi bench/threshold_bench.ts
//   deno run --allow-net --allow-ffi bench/threshold_bench.ts [--json] [--quiet-ms=300]
//
// Under `deno bench` each NoDelay setting is one bench of one iteration (its
// time is the sweep's, not a rate) and the tables print when the file ends.
// Under `deno run` it prints the tables, or the cells as JSON with --json.
// Without --allow-ffi only the default sizes are measured. See
// bench/_threshold.ts for the method.

import { formatBytes, formatGrid, measureGrid, type Threshold } from "./_threshold.ts";

/** Both grids as text: a table per NoDelay setting, then what the kernel made of the sizes. */
function report(cells: Threshold[]): string {
  const out: string[] = [];
  for (const noDelay of [true, false]) {
    const grid = cells.filter((c) => c.noDelay === noDelay);
    if (grid.length === 0) continue;
    out.push(`\nBytes accepted before a write blocks, NoDelay ${noDelay ? "on" : "off"}:\n`);
    out.push(formatGrid(grid));
  }
  const kernel = (asked: number | null, got: number) =>
    `${asked === null ? "default" : formatBytes(asked)} → ${got < 0 ? "?" : formatBytes(got)}`;
  const snd = new Map(cells.map((c) => [c.sendBuffer, c.kernelSendBuffer]));
  const rcv = new Map(cells.map((c) => [c.receiveBuffer, c.kernelReceiveBuffer]));
  out.push(
    `\nAs the kernel reports them (getsockopt, at connect; defaults grow with autotuning):`,
    `SO_SNDBUF ${[...snd].map(([a, g]) => kernel(a, g)).join(", ")}`,
    `SO_RCVBUF ${[...rcv].map(([a, g]) => kernel(a, g)).join(", ")}`,
  );
  return out.join("\n");
}

const cells: Threshold[] = [];

for (const noDelay of [true, false]) {
  Deno.bench({
    name: `sweep, NoDelay ${noDelay ? "on" : "off"} (time of the whole sweep; see the tables)`,
    group: "write-block thresholds",
    n: 1,
    warmup: 0,
    async fn() {
      const grid = await measureGrid(noDelay);
      if (grid.some((c) => c.accepted <= 0)) throw new Error("A cell accepted no bytes");
      cells.push(...grid);
    },
  });
}

globalThis.addEventListener("unload", () => {
  if (cells.length > 0) console.log(report(cells));
});

if (import.meta.main) {
  const quietArg = Deno.args.find((a) => a.startsWith("--quiet-ms="));
  const quietMs = quietArg === undefined ? undefined : Number(quietArg.slice("--quiet-ms=".length));
  if (quietMs !== undefined && !(quietMs > 0)) {
    console.error(`Invalid ${quietArg}: want milliseconds > 0`);
    Deno.exit(2);
  }
  const all: Threshold[] = [];
  for (const noDelay of [true, false]) {
    all.push(...await measureGrid(noDelay, quietMs === undefined ? {} : { quietMs }));
  }
  if (Deno.args.includes("--json")) console.log(JSON.stringify(all, null, 2));
  else console.log(report(all));
}
