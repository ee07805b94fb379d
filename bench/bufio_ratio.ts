// The ratios of bench/bufio_bench.ts, measured so that noise cancels out:
//
//   deno run bench/bufio_ratio.ts [--rounds=40]
//
// Each round runs a group's baseline and then each other case once
// (100 000 messages each) and takes the ratio within the round, so a burst
// of load from another process lands on both sides. It prints the median
// rate of each case and its median per-round ratio to the baseline
// (1.00 = as fast as the hand-rolled code).

import { type Case, CASES, MESSAGES } from "./_bufio_cases.ts";
import { median } from "../_kit/stats.ts";

const roundsArg = Deno.args.find((a) => a.startsWith("--rounds="));
const ROUNDS = roundsArg === undefined ? 40 : Number(roundsArg.slice("--rounds=".length));

async function time(c: Case): Promise<number> {
  const start = performance.now();
  await c.run();
  return performance.now() - start;
}

for (const c of CASES) for (let i = 0; i < 5; i++) await c.run(); // warm up

for (const group of new Set(CASES.map((c) => c.group))) {
  const base = CASES.find((c) => c.group === group && c.baseline)!;
  const others = CASES.filter((c) => c.group === group && !c.baseline);
  const baseMs: number[] = [];
  const ms = new Map<Case, number[]>(others.map((c) => [c, []]));
  const ratios = new Map<Case, number[]>(others.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const b = await time(base);
    baseMs.push(b);
    for (const c of others) {
      const t = await time(c);
      ms.get(c)!.push(t);
      ratios.get(c)!.push(b / t);
    }
  }
  const rate = (xs: number[]) => (MESSAGES / median(xs) / 1000).toFixed(1);
  console.log(`\n${group}`);
  console.log(`  ${base.name.padEnd(56)} ${rate(baseMs).padStart(6)} M/s  baseline`);
  for (const c of others) {
    const r = median(ratios.get(c)!).toFixed(2);
    console.log(`  ${c.name.padEnd(56)} ${rate(ms.get(c)!).padStart(6)} M/s  ${r}x`);
  }
}
