/**
 * Summaries of measured numbers for the probe and the bench. Private to the
 * repository.
 *
 * @module
 */

/** The `q` quantile of `xs` (0 to 1), interpolated between ranks; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

/** The median of `xs`; NaN for none. */
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** The mean of `xs`; NaN for none. */
export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
