/**
 * How the probe's cells name what it measured: sizes for people, and an
 * error as its class and kind. Internal to the probe.
 *
 * @module
 */

/** `n` bytes for humans: exact below 64 KiB, else KiB or MiB with two decimals. */
export function bytes(n: number): string {
  if (n < 64 * 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** The error's class name and kind, for a table cell: `NetError(reset)`. */
export function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const kind = (e as { kind?: unknown }).kind;
  return typeof kind === "string" && e.name === "NetError" ? `NetError(${kind})` : e.name;
}

/** The error's kind as the Go program names it: a NetError's `kind`, "none" or "other". */
export function kindOf(e: unknown): string {
  if (e === undefined) return "none";
  const kind = (e as { kind?: unknown }).kind;
  return e instanceof Error && typeof kind === "string" ? kind : "other";
}
