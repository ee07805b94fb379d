// Socket-test helpers: a connected pair on loopback, and timing asserted in
// must-return / must-not-return pairs with growing timeouts, never with a
// bare sleep. Every timer here is cleared before its function returns, so
// Deno's op sanitizer stays quiet.

import assert from "node:assert/strict";
import type { Address } from "../address.ts";
import type { Conn } from "../conn.ts";
import { dial, type DialOptions } from "../dial.ts";
import { listen, type Listener, type ListenOptions } from "../listener.ts";

export { pattern } from "./_iotest.ts";

/** A listener, a conn dialed to it and the conn it accepted. */
export interface Pair extends AsyncDisposable {
  ln: Listener;
  /** The dialed side. */
  client: Conn;
  /** The accepted side. */
  server: Conn;
}

/** Options for {@linkcode pair}. */
export interface PairOptions {
  /** Where to listen. @default {"127.0.0.1:0"} */
  address?: Address;
  /** Where to dial. @default {the listener's address} */
  dialAddress?: Address;
  listen?: ListenOptions;
  dial?: DialOptions;
}

/**
 * Listens, dials and accepts. Disposing closes all three and waits until the
 * runtime has settled what they had in flight.
 */
export async function pair(options: PairOptions = {}): Promise<Pair> {
  const ln = listen(options.address ?? "127.0.0.1:0", options.listen);
  let client: Conn | undefined;
  try {
    const target = options.dialAddress ?? { hostname: ln.addr.hostname, port: ln.addr.port };
    const accepted = ln.accept();
    const dialed = dial(target, options.dial);
    // Both settle; if one fails, the other's conn must still be closed.
    const [c, s] = await Promise.allSettled([dialed, accepted]);
    if (c.status === "fulfilled") client = c.value;
    if (s.status === "rejected" || c.status === "rejected") {
      if (s.status === "fulfilled") await s.value[Symbol.asyncDispose]();
      throw c.status === "rejected" ? c.reason : (s as PromiseRejectedResult).reason;
    }
    const server = s.value;
    const cl = client!;
    return {
      ln,
      client: cl,
      server,
      async [Symbol.asyncDispose]() {
        await cl[Symbol.asyncDispose]();
        await server[Symbol.asyncDispose]();
        await ln[Symbol.asyncDispose]();
      },
    };
  } catch (e) {
    await client?.[Symbol.asyncDispose]();
    await ln[Symbol.asyncDispose]();
    throw e;
  }
}

const PENDING = Symbol("pending");

/**
 * Settles like `p`, or with PENDING if `p` has not settled within `ms`. The
 * timer is always cleared.
 */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof PENDING> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timer = new Promise<typeof PENDING>((resolve) => {
    id = setTimeout(() => resolve(PENDING), ms);
  });
  try {
    return await Promise.race([p, timer]);
  } finally {
    clearTimeout(id);
  }
}

/**
 * Asserts that `p` is still pending after `ms`: the must-not-return half of
 * a timing pair. Marks `p` handled; await it later for its outcome.
 */
export async function mustNotSettle(p: Promise<unknown>, ms: number, what = "it"): Promise<void> {
  const outcome = await within(p.then((v) => ({ v }), (e) => ({ e })), ms);
  if (outcome !== PENDING) {
    const how = "e" in outcome
      ? `rejected with ${String(outcome.e)}`
      : `resolved with ${String(outcome.v)}`;
    assert.fail(`${what} must not settle within ${ms} ms, but ${how}`);
  }
}

/**
 * Awaits `p`, failing the test instead of hanging it if `p` has not settled
 * within `limitMs`: the must-return half of a timing pair.
 */
export async function mustSettle<T>(p: Promise<T>, limitMs = 5000, what = "it"): Promise<T> {
  const outcome = await within(p, limitMs);
  if (outcome === PENDING) assert.fail(`${what} must settle within ${limitMs} ms`);
  return outcome;
}

/**
 * Awaits `p`, asserts it rejects with an instance of `type` within
 * `limitMs`, and returns the error for further checks.
 */
export async function mustReject<E extends Error>(
  p: Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: abstract new (...args: any[]) => E,
  limitMs = 5000,
  what = "it",
): Promise<E> {
  let value: unknown;
  try {
    value = await mustSettle(p, limitMs, what);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.ok(e instanceof type, `${what} must reject with ${type.name}, got ${String(e)}`);
    return e;
  }
  return assert.fail(`${what} must reject with ${type.name}, but resolved with ${String(value)}`);
}

/** Options for {@linkcode eventually}. */
export interface EventuallyOptions {
  /** The first timeout, in ms. @default {20} */
  start?: number;
  /** The largest timeout; the attempt with it is the last. @default {2000} */
  cap?: number;
}

/**
 * Go's habit for flaky timing: runs `attempt(ms)` with a timeout that starts
 * small and grows by 5/4 up to `cap`, and returns the first result that does
 * not throw. The attempt with the cap is the last: its error fails the test.
 */
export async function eventually<T>(
  attempt: (ms: number) => Promise<T>,
  options: EventuallyOptions = {},
): Promise<T> {
  const { start = 20, cap = 2000 } = options;
  for (let ms = start;; ms = Math.min(Math.ceil(ms * 5 / 4), cap)) {
    try {
      return await attempt(ms);
    } catch (e) {
      if (ms >= cap) throw e;
    }
  }
}

/** Waits `ms`; for pacing inside an {@linkcode eventually} attempt, never as an assertion. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads until `n` bytes have come or EOF; returns what came. */
export async function readAtLeast(conn: Conn, n: number, bufSize = 64 * 1024): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const buf = new Uint8Array(bufSize);
  while (got < n) {
    const m = await conn.read(buf.subarray(0, Math.min(buf.length, n - got)));
    if (m === null) break;
    out.set(buf.subarray(0, m), got);
    got += m;
  }
  return out.subarray(0, got);
}

/** Reads until EOF and returns the number of bytes. */
export async function drain(conn: Conn, bufSize = 256 * 1024): Promise<number> {
  const buf = new Uint8Array(bufSize);
  let total = 0;
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) total += n;
  return total;
}

/** Whether this host can listen on ::1. */
export function ipv6Available(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}
