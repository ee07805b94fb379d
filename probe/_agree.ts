/**
 * Comparing a row's figures with Go's: the checks each row's `compare` is
 * made of. Internal to the probe.
 *
 * @module
 */

import type { Agreement } from "./_lab.ts";
import { bytes } from "./_cells.ts";

/** One check of a comparison: whether it held, and the figures side by side. */
export type Check = [held: boolean, figures: string];

/**
 * The agreement of `checks`: they agree when every check held; the note
 * lists the checks that did not (or, when all held, every check's figures).
 */
export function agreement(...checks: Check[]): Agreement {
  const failed = checks.filter(([held]) => !held);
  const shown = failed.length > 0 ? failed : checks;
  return { agree: failed.length === 0, note: shown.map(([, text]) => text).join("; ") };
}

/** Whether `a` and `b` are within `fraction` of the larger of the two. */
export function near(a: number, b: number, fraction: number): boolean {
  return Math.abs(a - b) <= fraction * Math.max(Math.abs(a), Math.abs(b));
}

/** A check that a byte count is near Go's: "accepted: Go 3.69 MiB, netconn 3.69 MiB". */
export function nearBytes(
  name: string,
  go: number | undefined,
  ours: number | undefined,
  fraction = 0.1,
): Check {
  const held = go !== undefined && ours !== undefined && near(go, ours, fraction);
  return [held, `${name}: Go ${show(go, bytes)}, netconn ${show(ours, bytes)}`];
}

/** A check that a number equals Go's. */
export function same(name: string, go: number | undefined, ours: number | undefined): Check {
  return [go !== undefined && go === ours, `${name}: Go ${show(go)}, netconn ${show(ours)}`];
}

/**
 * A check that both sides ended with the same kind of error, exactly (a
 * reset is not a broken pipe). `decided` names a pair of kinds, Go's then
 * netconn's, that a row's decision covers: shown, judged by the decision.
 */
export function sameError(
  go: string | undefined,
  ours: string | undefined,
  name = "error",
  decided?: [go: string, ours: string],
): Check {
  const covered = decided !== undefined && go === decided[0] && ours === decided[1];
  const held = go !== undefined && (go === ours || covered);
  return [held, `${name}: Go ${go ?? "none"}, netconn ${ours ?? "none"}`];
}

/** A check that holds on both sides, e.g. "counts are true". */
export function both(name: string, go: boolean, ours: boolean): Check {
  const word = (b: boolean): string => b ? "yes" : "no";
  return [go && ours, `${name}: Go ${word(go)}, netconn ${word(ours)}`];
}

function show(n: number | undefined, format: (n: number) => string = String): string {
  return n === undefined ? "none" : format(n);
}
