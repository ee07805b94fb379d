// One process of bench/scale.ts: it holds `conns` loopback conns (half
// dialed to its peer process, half accepted from it), each with a read
// pending, and runs the steps its parent sends, one JSON line per step on
// stdin, one JSON line of results per step on stdout. It counts the timers it
// has alive by wrapping setTimeout before netconn is loaded.
//
//   deno run --allow-net --allow-read [--allow-ffi] --v8-flags=--expose-gc \
//     bench/_scale_worker.ts --variant=raw|netconn --conns=N --buf=B

import type { Conn, Listener } from "../mod.ts";
import { lines } from "../_kit/child.ts";

/** A step the parent asks for, and its arguments. */
export interface Step {
  step: "listen" | "open" | "arm" | "clear" | "deadline" | "echo" | "close";
  /** For "open": the peer's listening port. */
  peerPort?: number;
  /** For "deadline": the epoch milliseconds at which every read deadline passes. */
  at?: number;
}

/** How a pending read ended. */
const PENDING = 0, DATA = 1, EOF = 2, TIMEOUT = 3, CLOSED = 4, OTHER = 5;
const OUTCOMES = ["pending", "data", "eof", "timeout", "closed", "other"] as const;

/** The conns of one process, raw or netconn, behind one shape. */
interface Pool {
  readonly port: number;
  open(peerPort: number, count: number): Promise<void>;
  read(i: number, p: Uint8Array): Promise<number | null>;
  write(i: number, p: Uint8Array): Promise<void>;
  setReadDeadline(i: number, t: number | null): void;
  close(i: number): void;
  /** Closes the listener and forgets the conns, which must all be closed. */
  closeListener(): void;
  isTimeout(e: unknown): boolean;
  isClosed(e: unknown): boolean;
  /** netconn: the work its fd lookups did (for socket options), so far. */
  fdLookups(): Record<string, number>;
}

const DIAL_CONCURRENCY = 256;

/** Dials `count` conns, at most DIAL_CONCURRENCY at a time, into `into` from slot `from`. */
async function dialAll<T>(
  count: number,
  dialOne: () => Promise<T>,
  into: T[],
  from: number,
): Promise<void> {
  let next = 0;
  async function lane(): Promise<void> {
    while (next < count) into[from + next++] = await dialOne();
  }
  await Promise.all(Array.from({ length: Math.min(DIAL_CONCURRENCY, count) }, lane));
}

function rawPool(): Pool {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const conns: Deno.TcpConn[] = [];
  function configure(c: Deno.TcpConn): Deno.TcpConn {
    c.setNoDelay(true);
    c.setKeepAlive(true);
    return c;
  }
  return {
    port: ln.addr.port,
    async open(peerPort, count) {
      const half = count >> 1;
      const accepting = (async () => {
        for (let i = 0; i < count - half; i++) conns[half + i] = configure(await ln.accept());
      })();
      await dialAll(
        half,
        async () => {
          return configure(await Deno.connect({ hostname: "127.0.0.1", port: peerPort }));
        },
        conns,
        0,
      );
      await accepting;
    },
    read: (i, p) => conns[i]!.read(p),
    async write(i, p) {
      for (let off = 0; off < p.length;) off += await conns[i]!.write(p.subarray(off));
    },
    setReadDeadline() {
      throw new Error("Raw Deno conns have no deadlines");
    },
    close: (i) => conns[i]!.close(),
    closeListener() {
      ln.close();
      conns.length = 0;
    },
    isTimeout: () => false,
    isClosed: (e) => e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted,
    fdLookups: () => ({}),
  };
}

async function netconnPool(): Promise<Pool> {
  const { dial, listen, ClosedError, TimeoutError } = await import("../mod.ts");
  const { fdIndex } = await import("../_sys/fd.ts");
  const ln: Listener = listen("127.0.0.1:0");
  const conns: Conn[] = [];
  return {
    port: ln.addr.port,
    async open(peerPort, count) {
      const half = count >> 1;
      const accepting = (async () => {
        for (let i = 0; i < count - half; i++) conns[half + i] = await ln.accept();
      })();
      await dialAll(half, () => dial(`127.0.0.1:${peerPort}`), conns, 0);
      await accepting;
    },
    read: (i, p) => conns[i]!.read(p),
    async write(i, p) {
      await conns[i]!.write(p);
    },
    setReadDeadline: (i, t) => conns[i]!.setReadDeadline(t),
    close: (i) => conns[i]!.close(),
    closeListener() {
      ln.close();
      conns.length = 0;
    },
    isTimeout: (e) => e instanceof TimeoutError,
    isClosed: (e) => e instanceof ClosedError,
    fdLookups: () => ({ ...fdIndex.stats }),
  };
}

/**
 * Wraps setTimeout and clearTimeout so the process can count its live
 * timers; returns the counter. Call before loading the code to watch.
 */
function trackTimers(): () => number {
  const live = new Set<number>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  function counted(fn: unknown, delay?: number, ...args: unknown[]): number {
    if (typeof fn !== "function") throw new TypeError("Timer callback is not a function");
    const id = realSet(() => {
      live.delete(id);
      fn(...args);
    }, delay) as unknown as number;
    live.add(id);
    return id;
  }
  function uncounted(id?: number): void {
    if (id !== undefined) live.delete(id);
    realClear(id);
  }
  globalThis.setTimeout = counted as unknown as typeof setTimeout;
  globalThis.clearTimeout = uncounted as unknown as typeof clearTimeout;
  return () => live.size;
}

/** Epoch milliseconds with sub-millisecond precision. */
function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

function arg(name: string, fallback: string): string {
  const found = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : found.slice(name.length + 3);
}

const encoder = new TextEncoder();

function reply(result: Record<string, unknown>): void {
  const bytes = encoder.encode(`${JSON.stringify(result)}\n`);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** Runs the steps for one process. */
async function main(): Promise<void> {
  const variant = arg("variant", "netconn");
  const count = Number(arg("conns", "10000"));
  const bufSize = Number(arg("buf", "4096"));
  const sleepTimeout = globalThis.setTimeout; // not counted
  const timers = trackTimers();
  const gc = (globalThis as { gc?: () => void }).gc;

  async function settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await new Promise((resolve) => sleepTimeout(resolve, 20));
    }
  }

  async function memory(): Promise<Record<string, number>> {
    await settle();
    const m = Deno.memoryUsage();
    return { heapUsed: m.heapUsed, external: m.external, rss: m.rss, timers: timers() };
  }

  const pool = variant === "raw" ? rawPool() : await netconnPool();
  const bufs: Uint8Array[] = [];
  const outcome = new Uint8Array(count);
  const settledAt = new Float64Array(count);
  let reads: Promise<void>[] = [];
  let sample = ""; // the first unexpected error, for the report

  function startRead(i: number): Promise<void> {
    outcome[i] = PENDING;
    return pool.read(i, bufs[i]!).then((n) => {
      outcome[i] = n === null ? EOF : DATA;
      settledAt[i] = epochNow();
    }, (e) => {
      outcome[i] = pool.isTimeout(e) ? TIMEOUT : pool.isClosed(e) ? CLOSED : OTHER;
      if (outcome[i] === OTHER && sample === "") sample = String(e);
      settledAt[i] = epochNow();
    });
  }

  function startReads(): void {
    reads = Array.from({ length: count }, (_, i) => startRead(i));
  }

  function tally(): Record<string, number> {
    const t: Record<string, number> = {};
    for (const name of OUTCOMES) t[name] = 0;
    for (const o of outcome) t[OUTCOMES[o]!]!++;
    return t;
  }

  const steps: Record<Step["step"], (s: Step) => Promise<Record<string, unknown>>> = {
    async listen() {
      return { port: pool.port, pid: Deno.pid, ...(await memory()) };
    },
    async open(s) {
      const start = performance.now();
      await pool.open(s.peerPort!, count);
      const openMs = performance.now() - start;
      for (let i = 0; i < count; i++) bufs[i] = new Uint8Array(bufSize);
      startReads();
      return { openMs, ...pool.fdLookups(), ...(await memory()) };
    },
    async arm() {
      const start = performance.now();
      const at = Date.now() + 3_600_000;
      for (let i = 0; i < count; i++) pool.setReadDeadline(i, at);
      return { setMs: performance.now() - start, ...(await memory()) };
    },
    async clear() {
      const start = performance.now();
      for (let i = 0; i < count; i++) pool.setReadDeadline(i, null);
      return { setMs: performance.now() - start, ...(await memory()) };
    },
    async deadline(s) {
      const at = s.at!;
      const start = performance.now();
      for (let i = 0; i < count; i++) pool.setReadDeadline(i, at);
      const setMs = performance.now() - start;
      const setDoneBeforeDeadline = epochNow() < at;
      await Promise.all(reads);
      let first = Infinity;
      let last = -Infinity;
      for (const t of settledAt) {
        first = Math.min(first, t);
        last = Math.max(last, t);
      }
      return {
        setMs,
        setDoneBeforeDeadline,
        firstMs: first - at,
        lastMs: last - at,
        ...tally(),
        sample,
        timersAfter: timers(),
      };
    },
    async echo() {
      // Every conn is still whole after its read timed out: each side sends
      // one byte on every conn and reads the peer's. Raw conns' reads from
      // "open" are still pending and take the byte.
      if (variant !== "raw") {
        for (let i = 0; i < count; i++) pool.setReadDeadline(i, null);
        startReads();
      }
      const one = new Uint8Array([0x5a]);
      const start = performance.now();
      await Promise.all(Array.from({ length: count }, (_, i) => pool.write(i, one)));
      await Promise.all(reads);
      const echoMs = performance.now() - start;
      let ok = 0;
      for (let i = 0; i < count; i++) if (outcome[i] === DATA && bufs[i]![0] === 0x5a) ok++;
      startReads(); // idle again, a read pending on every conn, no deadline
      return { echoMs, ok, ...(await memory()) };
    },
    async close() {
      const start = performance.now();
      for (let i = 0; i < count; i++) pool.close(i);
      pool.closeListener();
      const closeSyncMs = performance.now() - start;
      await Promise.all(reads);
      const closeMs = performance.now() - start;
      const outcomes = tally();
      bufs.length = 0;
      reads = [];
      return { closeSyncMs, closeMs, ...outcomes, sample, ...(await memory()) };
    },
  };

  for await (const line of lines(Deno.stdin.readable)) {
    if (line.trim() === "") continue;
    const s = JSON.parse(line) as Step;
    try {
      reply({ step: s.step, ...(await steps[s.step](s)) });
    } catch (e) {
      reply({ step: s.step, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      Deno.exit(1);
    }
  }
}

if (import.meta.main) await main();
