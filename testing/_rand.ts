/**
 * Seeded randomness for the proxy's faults: jitter, slice size variation and
 * toxicity draw from a generator made from the proxy's seed, so a run
 * replays when given the same seed. Internal.
 *
 * @module
 */

/** A source of numbers in [0, 1), as `Math.random`. */
export type Random = () => number;

/**
 * A generator of numbers in [0, 1) from a 32-bit seed (mulberry32): the
 * same seed gives the same numbers, in the same order.
 */
export function seeded(seed: number): Random {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A seed for the `n`th stream of `seed` (a conn, a direction), so that each
 * draws its own numbers whatever order the others draw theirs in.
 */
export function derive(seed: number, n: number): number {
  let h = (seed >>> 0) ^ Math.imul(n + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A fresh seed, for a proxy given none: an integer from 0 to 2^32 - 1. */
export function freshSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
