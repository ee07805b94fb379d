// The one home of the socket tests' helpers: connected pairs on loopback
// (netconn's and raw Deno's), timing asserted in must-return /
// must-not-return pairs with growing timeouts (never a bare sleep), writing
// until a write blocks, and a Deno subprocess that answers in one JSON line.
// Every timer here is cleared before its function returns, so Deno's op
// sanitizer stays quiet.

import assert from "node:assert/strict";
import type { Address } from "../address.ts";
import type { Conn } from "../conn.ts";
import type { TcpConn } from "../tcp.ts";
import { dial, type DialOptions } from "../dial.ts";
import { listen, type Listener, type ListenOptions } from "../listener.ts";

export { pattern } from "./_iotest.ts";

/** A listener, a conn dialed to it and the conn it accepted. */
export interface Pair extends AsyncDisposable {
  ln: Listener;
  /** The dialed side. */
  client: TcpConn;
  /** The accepted side. */
  server: TcpConn;
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
  let client: TcpConn | undefined;
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

/** A raw Deno listener, a conn dialed to it and the conn it accepted. */
export interface RawPair extends Disposable {
  ln: Deno.TcpListener;
  /** The dialed side. */
  client: Deno.TcpConn;
  /** The accepted side. */
  server: Deno.TcpConn;
}

/** Options for {@linkcode rawPair}. */
export interface RawPairOptions {
  /** Where to listen. @default {"127.0.0.1"} */
  hostname?: string;
  /** Where to dial. @default {hostname} */
  dialHost?: string;
  /** Called with the listener before the dial, e.g. to set what accepted conns inherit. */
  onListen?: (ln: Deno.TcpListener) => void;
}

/**
 * {@linkcode pair} for raw `Deno.TcpConn`s. Disposing closes all three,
 * skipping what the test closed already.
 */
export async function rawPair(options: RawPairOptions = {}): Promise<RawPair> {
  const { hostname = "127.0.0.1", dialHost = hostname } = options;
  const ln = Deno.listen({ hostname, port: 0 });
  const dispose = (...all: { close(): void }[]): void => {
    for (const c of all) {
      try {
        c.close();
      } catch { /* closed by the test */ }
    }
  };
  try {
    options.onListen?.(ln);
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: dialHost, port: ln.addr.port }),
      ln.accept(),
    ]);
    return { ln, client, server, [Symbol.dispose]: () => dispose(client, server, ln) };
  } catch (e) {
    dispose(ln);
    throw e;
  }
}

/** What {@linkcode within} gives for a promise still pending. */
export const PENDING: unique symbol = Symbol("pending");

/**
 * Settles like `p`, or with {@linkcode PENDING} if `p` has not settled within
 * `ms`. The timer is always cleared.
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
export async function readAtLeast(
  conn: Conn,
  n: number,
  bufSize = 64 * 1024,
): Promise<Uint8Array> {
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

/** A file under /proc, read with cat: Deno reads /proc/sys only under --allow-all. */
export async function procText(path: string): Promise<string> {
  const { code, stdout } = await new Deno.Command("cat", { args: [path], stdout: "piped" })
    .output();
  assert.equal(code, 0, `cannot read ${path}`);
  return new TextDecoder().decode(stdout);
}

/** A number from a one-line file under /proc. */
export async function procNumber(path: string): Promise<number> {
  const text = (await procText(path)).trim();
  assert.match(text, /^\d+$/, `${path} holds a number`);
  return Number(text);
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

/** How long a write that did not return must then stay pending to count as blocked. */
const STUCK_MS = 300; // longer than Linux's largest delayed-ACK delay (200 ms)
/** No loopback socket takes this much unread: a write loop that gets here never blocked. */
const NEVER_BLOCKS = 256 << 20;

/** What {@linkcode fillUntilBlocked} leaves. */
export interface Filled {
  /** The bytes of the writes that returned. */
  accepted: number;
  /**
   * The write that blocked. It settles when the peer reads or the conn
   * closes; it is marked handled, so await it for its outcome or leave it.
   */
  blocked: Promise<number>;
}

/**
 * Writes `chunk` (64 KiB) to `conn`, whose peer does not read, until a write
 * blocks: it has not returned within `wait` ms (from 20 ms) and then not
 * within 300 ms more. A write that returns late grows `wait` by 5/4, so a
 * busy machine is not taken for a full pipe. Fails the test if 256 MiB go
 * through without a block. Works on a netconn Conn and a raw Deno conn.
 */
export async function fillUntilBlocked(
  conn: { write(p: Uint8Array): Promise<number> },
  chunk: Uint8Array = new Uint8Array(64 * 1024),
): Promise<Filled> {
  let accepted = 0;
  let wait = 20;
  while (accepted < NEVER_BLOCKS) {
    const write = conn.write(chunk);
    let n = await within(write, wait);
    if (n === PENDING) {
      n = await within(write, STUCK_MS);
      if (n === PENDING) {
        write.catch(() => {});
        return { accepted, blocked: write };
      }
      wait = Math.ceil(wait * 5 / 4); // it returned late: a slow machine, not a full pipe
    }
    accepted += n;
  }
  return assert.fail(`writes of ${accepted} bytes to a peer that does not read never blocked`);
}

/** A Deno subprocess started by {@linkcode runDeno}. */
export interface DenoChild extends AsyncDisposable {
  /** The JSON of the first line the child printed. */
  result: Record<string, unknown>;
  /** Ends the child's stdin and waits for it to exit; disposing does the same. */
  finish(): Promise<{ code: number; stderr: string }>;
}

/**
 * Runs `deno run --no-prompt ...flags module ...args` with other permissions
 * or flags than the tests have, and waits (up to 20 s) for the first line it
 * prints, which must be JSON. The child's stdin stays open until
 * {@linkcode DenoChild.finish}, so a child can keep its sockets open while
 * the test looks at them.
 */
export async function runDeno(
  flags: string[],
  module: URL,
  ...args: string[]
): Promise<DenoChild> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, module.pathname, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdin = child.stdin.getWriter();
  let exited: Promise<{ code: number; stderr: string }> | undefined;
  const finish = (): Promise<{ code: number; stderr: string }> =>
    exited ??= (async () => {
      await stdin.close().catch(() => {});
      const { code } = await child.status;
      return { code, stderr: await stderr };
    })();
  try {
    const line = await mustSettle(
      new Response(firstLine(child.stdout)).text(),
      20_000,
      "the child",
    );
    if (line.length === 0) assert.fail(`the child printed nothing: ${(await finish()).stderr}`);
    return {
      result: JSON.parse(line),
      finish,
      [Symbol.asyncDispose]: async () => void await finish(),
    };
  } catch (e) {
    child.kill();
    await finish();
    throw e;
  }
}

/** The stream up to its first newline; the rest is read and dropped. */
function firstLine(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let done = false;
  return stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        if (done) return;
        const end = chunk.indexOf(10);
        controller.enqueue(end < 0 ? chunk : chunk.subarray(0, end));
        if (end >= 0) {
          done = true;
          controller.terminate();
        }
      },
    }),
  );
}

/** Whether `command` is an executable on PATH. */
export function onPath(command: string): boolean {
  const path = Deno.env.get("PATH") ?? "";
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${command}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Test options that skip a test, with a message once, when the real peer it
 * drives (`openssl`, `python3`) is not installed: `.ci/run` installs them,
 * and a machine with only Deno still runs everything else.
 */
export function needs(command: string): { ignore: boolean } {
  const missing = !onPath(command);
  if (missing && !warned.has(command)) {
    warned.add(command);
    console.warn(`${command} is not on PATH: the tests that drive it are skipped`);
  }
  return { ignore: missing };
}

const warned = new Set<string>();

/** What a JavaScript caller passes where bytes go: each must be a TypeError, nothing sent. */
export const NOT_BYTES: [string, unknown][] = [
  ["a string", "text"],
  ["null", null],
  ["undefined", undefined],
  ["an object", {}],
  ["a number", 5],
  ["an ArrayBuffer", new ArrayBuffer(4)],
  ["a DataView", new DataView(new ArrayBuffer(4))],
  ["a Uint16Array", new Uint16Array([0x4142, 0x4344])],
  ["an array", [1, 2, 3]],
  ["an array-like", { length: 3 }],
  ["an AbortController", new AbortController()],
];
