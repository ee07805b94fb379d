/**
 * Small I/O and timing helpers shared by the probe's experiments. Internal.
 *
 * @module
 */

/** Anything with `read(p)`: a {@linkcode Conn} or a raw `Deno.Conn`. */
export interface Readable {
  read(p: Uint8Array): Promise<number | null>;
}

/** Anything with `write(p)` that may accept only part of `p`. */
export interface Writable {
  write(p: Uint8Array): Promise<number>;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Milliseconds since `start` (a `performance.now()` reading), to 0.1 ms. */
export function since(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}

/** The error `p` rejects with, or undefined when it resolves. */
export function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e: unknown) => e);
}

/**
 * Waits at most `ms` for `p`: `{ settled: true }` when it settled in time,
 * else `{ settled: false }` and `p` is left running (a must-not-return check).
 */
export async function within(p: Promise<unknown>, ms: number): Promise<{ settled: boolean }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  const settled = p.then(() => true as const, () => true as const);
  try {
    return { settled: await Promise.race([settled, late]) };
  } finally {
    clearTimeout(timer);
  }
}

/** `len` bytes whose value at stream offset `k` is `k & 0xff`, starting at `offset`. */
export function pattern(len: number, offset = 0): Uint8Array {
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = (offset + i) & 0xff;
  return p;
}

/**
 * Reads until EOF or `limit` bytes, checking each byte against
 * {@linkcode pattern} when `check` is set.
 *
 * @returns The bytes read, and whether every one matched the pattern.
 */
export async function drain(
  r: Readable,
  options: { limit?: number; check?: boolean } = {},
): Promise<{ bytes: number; intact: boolean }> {
  const { limit = Infinity, check = false } = options;
  const buf = new Uint8Array(64 * 1024);
  let bytes = 0;
  let intact = true;
  while (bytes < limit) {
    const n = await r.read(buf.subarray(0, Math.min(buf.length, limit - bytes)));
    if (n === null) break;
    if (check) {
      for (let i = 0; i < n; i++) if (buf[i] !== ((bytes + i) & 0xff)) intact = false;
    }
    bytes += n;
  }
  return { bytes, intact };
}

/** Fills `p` from `r`; throws at EOF. */
export async function readFull(r: Readable, p: Uint8Array): Promise<void> {
  for (let off = 0; off < p.length;) {
    const n = await r.read(p.subarray(off));
    if (n === null) throw new Error(`Unexpected EOF after ${off} of ${p.length} bytes`);
    off += n;
  }
}

/** Writes all of `p` with as many calls as it takes: what raw Deno callers must do. */
export async function writeAll(w: Writable, p: Uint8Array): Promise<void> {
  for (let off = 0; off < p.length;) off += await w.write(p.subarray(off));
}

/**
 * Resolves once `count()` has not changed for `quietMs` (a writer is blocked),
 * or after `limitMs` in any case.
 *
 * @returns The last count.
 */
export async function whenStalled(
  count: () => number,
  options: { quietMs: number; limitMs: number },
): Promise<number> {
  const step = Math.max(1, Math.floor(options.quietMs / 4));
  const end = performance.now() + options.limitMs;
  let last = count();
  let quietSince = performance.now();
  while (performance.now() < end) {
    await sleep(step);
    const now = count();
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= options.quietMs) {
      break;
    }
  }
  return last;
}

/** `n` bytes for humans: exact below 64 KiB, else KiB or MiB with two decimals. */
export function bytes(n: number): string {
  if (n < 64 * 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** The median of `xs` (which must not be empty). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
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
