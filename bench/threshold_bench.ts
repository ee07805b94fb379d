// Write-block thresholds: bytes a writer gets accepted by a conn whose peer
// never reads before a `write` blocks, for each sender SO_SNDBUF x receiver
// SO_RCVBUF (the OS default, then 16 KiB to 4 MiB by 4x), NoDelay on and
// off, through netconn:
//
//   deno task bench                                   # with the whole suite
//   deno bench --allow-net --allow-ffi bench/threshold_bench.ts
//   deno run --allow-net --allow-ffi bench/threshold_bench.ts [--json]
//
// The measure is the probe's (probe/sweep.ts, `deno task probe --sweep`):
// 64 KiB writes under a write deadline until one blocks and stays blocked;
// the receiver's size set on the listener before the dial, so the window
// of the handshake is already sized from it. Under `deno bench` each
// NoDelay setting is one bench of one iteration (its time is the sweep's,
// not a rate) and the tables print when the file ends; under `deno run` it
// prints the tables, or the cells as JSON with --json. Buffer sizes are set
// through libc: without --allow-ffi nothing is measured.

import { type Cell, fullGrid, sweep, sweepTables } from "../probe/sweep.ts";
import { Lab } from "../_kit/lab.ts";
import { markdownTable } from "../_kit/table.ts";
import { sockoptSupported } from "../sockopt/mod.ts";

/** Measures the whole grid for one NoDelay setting. */
async function measure(noDelay: boolean): Promise<Cell[]> {
  const lab = new Lab();
  try {
    return await sweep(lab, fullGrid().filter((spec) => spec.noDelay === noDelay));
  } finally {
    await lab.close();
  }
}

/** The cells as Markdown tables, one per NoDelay setting. */
function report(cells: Cell[]): string {
  return sweepTables(cells).map((t) => {
    const align = t.head.map((_, c) => c === 0 ? "left" as const : "right" as const);
    return `\n${t.title}:\n\n${markdownTable(t.head, t.rows, align)}`;
  }).join("\n");
}

const NO_FFI = "Write-block thresholds need --allow-ffi (buffer sizes are set through libc)";
const cells: Cell[] = [];

for (const noDelay of [true, false]) {
  Deno.bench({
    name: `sweep, NoDelay ${noDelay ? "on" : "off"} (the whole grid; see the tables)`,
    group: "write-block thresholds",
    n: 1,
    warmup: 0,
    ignore: !sockoptSupported(),
    async fn() {
      const grid = await measure(noDelay);
      if (grid.some((c) => !(c.threshold > 0))) throw new Error("A cell accepted no bytes");
      cells.push(...grid);
    },
  });
}

globalThis.addEventListener("unload", () => {
  if (cells.length > 0) console.log(report(cells));
});

if (import.meta.main) {
  if (!sockoptSupported()) {
    console.error(NO_FFI);
    Deno.exit(2);
  }
  const all = [...await measure(true), ...await measure(false)];
  console.log(Deno.args.includes("--json") ? JSON.stringify(all, null, 2) : report(all));
}
