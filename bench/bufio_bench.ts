// Buffered I/O against hand-rolled raw code, in memory (no sockets), each
// group with its raw baseline in the same run; every case checks its result.
// One iteration handles 100 000 messages of 64 bytes, so messages per second
// = 100 000 / (time per iteration).
//
//   deno bench bench/bufio_bench.ts
//
// On a shared machine `deno bench` ratios move with other processes' load;
// bench/bufio_ratio.ts interleaves the cases so the ratios hold still.

import { CASES } from "./_bufio_cases.ts";

for (const c of CASES) {
  Deno.bench({ name: c.name, group: c.group, baseline: c.baseline ?? false, fn: c.run });
}
