/**
 * FaultProxy: a loopback TCP proxy that injects the network's bad days
 * between a client and its server, toxiproxy-style, in-process.
 *
 * @module
 */

import { type Address, ClosedError, type Conn, dial, listen, type Listener } from "../mod.ts";
import { type CheckedFault, checkFault, describe, type Fault } from "./_fault.ts";
import type { Way } from "./_link.ts";
import { ProxiedConn } from "./_proxied.ts";
import { resetSupported } from "./_reset.ts";
import { parseAddress } from "../address.ts";
import { derive, freshSeed, type Random, seeded } from "./_rand.ts";

export type { Address } from "../mod.ts";
export type {
  BandwidthFault,
  CutFault,
  Direction,
  Fault,
  FaultBase,
  FaultKind,
  LatencyFault,
  LimitDataFault,
  RefuseFault,
  ResetFault,
  SilenceFault,
  SliceFault,
  SlowCloseFault,
  TimeoutFault,
} from "./_fault.ts";

/** Options for {@linkcode FaultProxy}. */
export interface FaultProxyOptions {
  /** Where to listen, in Go's syntax. @default {"127.0.0.1:0"} */
  listen?: Address;
  /** Faults in force from the start, as if passed to {@linkcode FaultProxy.add} in order. */
  faults?: readonly Fault[];
  /** The longest wait, in ms, for a dial to the upstream. @default {10000} */
  dialTimeout?: number;
  /**
   * The seed of every random draw (latency jitter, slice size variation,
   * toxicity): an integer from 0 to 2^32 - 1. The same seed gives each conn
   * (by the order it was accepted in) the same draws, so a failing run
   * replays. {@linkcode FaultProxy.seed} tells the one in use.
   * @default {a fresh random seed}
   */
  seed?: number;
}

/** Counters of a {@linkcode FaultProxy}, from {@linkcode FaultProxy.stats}. */
export interface FaultProxyStats {
  /** Conns accepted, refused ones included. */
  accepted: number;
  /** Conns being forwarded now. */
  open: number;
  /** Conns closed at once by a refuse fault. */
  refused: number;
  /** Conns ended by a reset fault. */
  resets: number;
  /** Accepted conns closed because the dial to the upstream failed. */
  upstreamFailures: number;
  /** Bytes forwarded from clients to the upstream. */
  bytesUpstream: number;
  /** Bytes forwarded from the upstream to clients. */
  bytesDownstream: number;
  /**
   * Bytes the proxy holds now: read and not yet forwarded (silence, latency,
   * a bandwidth cap). At most 256 KiB per conn and direction: the proxy
   * stops reading there, and the sender's kernel buffers fill.
   */
  bytesHeld: number;
}

/**
 * FaultProxy listens on loopback and forwards every conn it accepts to an
 * upstream address, through the faults in force: latency with jitter, a
 * bandwidth cap, slicing, silence, cut (FIN) and reset after N bytes or a
 * time, refusing new conns, and slow close. Faults are added with
 * {@linkcode FaultProxy.add} and removed with {@linkcode FaultProxy.remove}
 * at any time; conns already open see the change at once.
 *
 * Each fault applies per direction: `"upstream"` (client → server),
 * `"downstream"` (server → client) or `"both"` (the default). Faults of one
 * direction combine: latencies add up, the lowest bandwidth cap and the
 * smallest slice win, the nearest cut or reset fires first. Latency counts
 * from when the proxy read a chunk, so a stream is delayed, not slowed.
 *
 * **Reset.** With `--allow-ffi` on Linux, a reset fault aborts both sockets
 * of a conn (`connect(AF_UNSPEC)` through libc): each peer gets a real RST,
 * its pending and next read fail with ECONNRESET (a netconn `NetError` of
 * kind `"reset"`) after any bytes that had already reached it. Deno's own
 * `close()` sends FIN first, even with linger 0, so without FFI (or off
 * Linux) a reset is a close: the peer reads EOF, and its later writes fail
 * (`"broken-pipe"` or `"reset"`). {@linkcode FaultProxy.resetSupported}
 * tells which.
 *
 * **Refuse** accepts new conns and closes them at once (the client's dial
 * succeeds, as the kernel completes the handshake; its first read is EOF).
 * Open conns are not touched. A reset fault with neither `after` nor
 * `afterMs` resets new conns at once instead.
 *
 * **Ends.** A conn ends when both directions have forwarded their EOF (each
 * EOF is passed on as FIN, in order after the data), or when either side
 * fails (the other side is then reset, as the kernel would). If the upstream
 * cannot be dialed the client's conn is closed.
 *
 * @example Add latency to the replies of an echo server
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import { FaultProxy } from "@netconn/netconn/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = listen("127.0.0.1:0");
 * await using proxy = new FaultProxy(server.addr);
 * const id = proxy.add({ kind: "latency", ms: 50, direction: "downstream" });
 *
 * await using client = await dial(proxy.addr);
 * await using peer = await server.accept();
 * const buf = new Uint8Array(4);
 * await client.write(new TextEncoder().encode("ping"));
 * await peer.read(buf);
 * const start = performance.now();
 * await peer.write(new TextEncoder().encode("pong"));
 * await client.read(buf);
 * assert.ok(performance.now() - start >= 45);
 *
 * proxy.remove(id);
 * assert.equal(proxy.stats().bytesUpstream, 4);
 * ```
 */
export class FaultProxy implements AsyncDisposable {
  #ln: Listener;
  #upstream: Address;
  #dialTimeout: number;
  #seed: number;
  #random: Random; // refuse's toxicity draws, one per accepted conn
  #faults = new Map<number, CheckedFault>(); // in the order added
  #nextId = 1;
  #conns = new Set<ProxiedConn>(); // open
  #tasks = new Set<Promise<void>>(); // every conn's life, until its sockets are disposed
  #closing = new AbortController(); // ends pending dials on close
  #closed = false;
  #accepting: Promise<void>;
  #stats: FaultProxyStats = {
    accepted: 0,
    open: 0,
    refused: 0,
    resets: 0,
    upstreamFailures: 0,
    bytesUpstream: 0,
    bytesDownstream: 0,
    bytesHeld: 0,
  };

  /**
   * Listens and starts forwarding to `upstream`.
   *
   * @param upstream Where to forward: `"host:port"`, `"[::1]:port"`, or `{ hostname, port }`.
   * @param options Where to listen, the first faults, the dial timeout.
   * @throws {TypeError} If an argument has the wrong type, or a fault is malformed.
   * @throws {RangeError} If a port, number or timeout is out of range.
   * @throws {NetError} If the listen address cannot be used (in use, not local).
   */
  constructor(upstream: Address, options: FaultProxyOptions = {}) {
    checkUpstream(upstream);
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`FaultProxy options must be an object: received ${describe(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key)) {
        throw new TypeError(
          `FaultProxy has no option "${key}": it takes ${OPTION_KEYS.join(", ")}`,
        );
      }
    }
    const { listen: at = "127.0.0.1:0", faults = [], dialTimeout = 10_000 } = options;
    const seed = options.seed ?? freshSeed();
    if (typeof seed !== "number") {
      throw new TypeError(`FaultProxy seed must be a number: received ${describe(seed)}`);
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(
        `FaultProxy seed must be an integer from 0 to 4294967295: received "${seed}"`,
      );
    }
    if (!Array.isArray(faults)) {
      throw new TypeError(`FaultProxy faults must be an array: received ${describe(faults)}`);
    }
    if (typeof dialTimeout !== "number") {
      throw new TypeError(`Dial timeout must be a number: received ${describe(dialTimeout)}`);
    }
    if (!(dialTimeout > 0 && dialTimeout <= 2 ** 31 - 1)) {
      throw new RangeError(
        `Dial timeout must be from 1 to 2147483647 ms: received "${dialTimeout}"`,
      );
    }
    const checked = faults.map(checkFault);
    this.#upstream = upstream;
    this.#dialTimeout = dialTimeout;
    this.#seed = seed;
    this.#random = seeded(derive(seed, 0xffffffff));
    this.#ln = listen(at);
    for (const f of checked) this.#faults.set(this.#nextId++, f);
    this.#accepting = this.#accept();
  }

  /** The seed of the proxy's random draws: pass it as `seed` to replay a run. */
  get seed(): number {
    return this.#seed;
  }

  /** The address the proxy listens on: dial this instead of the upstream. */
  get addr(): Deno.NetAddr {
    return this.#ln.addr;
  }

  /**
   * Whether a reset fault sends a real RST here (Linux, `--allow-ffi`);
   * otherwise it closes, as {@linkcode FaultProxy} explains.
   *
   * @returns True when resets are real.
   */
  static resetSupported(): boolean {
    return resetSupported();
  }

  /**
   * Puts a fault in force, for open conns and new ones alike.
   *
   * @param fault The fault; see {@linkcode Fault}.
   * @returns The fault's id, for {@linkcode FaultProxy.remove}.
   * @throws {TypeError} If `fault` is not an object, its kind or direction is
   *   unknown, or a field has the wrong type.
   * @throws {RangeError} If a size, count, rate or time is out of range.
   */
  add(fault: Fault): number {
    const checked = checkFault(fault);
    const id = this.#nextId++;
    this.#faults.set(id, checked);
    for (const conn of this.#conns) conn.faultAdded(id, checked);
    return id;
  }

  /**
   * Takes a fault out of force. Held data (silence) is forwarded, waits
   * (latency, pacing) are cut short to what the remaining faults ask.
   *
   * @param id An id from {@linkcode FaultProxy.add}.
   * @returns Whether the fault was in force.
   * @throws {TypeError} If `id` is not a number.
   */
  remove(id: number): boolean {
    if (typeof id !== "number") {
      throw new TypeError(`Fault id must be a number: received ${describe(id)}`);
    }
    if (!this.#faults.delete(id)) return false;
    for (const conn of this.#conns) conn.faultRemoved(id);
    return true;
  }

  /** Takes every fault out of force. */
  clear(): void {
    for (const id of [...this.#faults.keys()]) this.remove(id);
  }

  /**
   * The faults in force, in the order added, with their defaults filled in.
   *
   * @returns `[id, fault]` pairs.
   */
  faults(): [number, Fault][] {
    return [...this.#faults].map(([id, f]) => [id, { ...f }]);
  }

  /**
   * The proxy's counters; see {@linkcode FaultProxyStats}.
   *
   * @returns A copy, taken now.
   */
  stats(): FaultProxyStats {
    let held = 0;
    for (const conn of this.#conns) held += conn.held;
    return { ...this.#stats, open: this.#conns.size, bytesHeld: held };
  }

  /**
   * Stops listening and closes every open conn on both sides (FIN); data
   * the proxy still holds is dropped. Calling it again does nothing.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.#ln.close();
    for (const conn of [...this.#conns]) conn.close();
  }

  /** Closes, then waits until every socket the proxy opened is free. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#accepting;
    await this.#ln[Symbol.asyncDispose]();
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let client: Conn;
      try {
        client = await this.#ln.accept();
      } catch (e) {
        if (e instanceof ClosedError) return;
        // Out of fds, say: back off a moment rather than spin.
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      const n = this.#stats.accepted++;
      if (this.#closed || this.#refusing()) {
        if (!this.#closed) this.#stats.refused++;
        this.#track(client[Symbol.asyncDispose]());
        continue;
      }
      this.#track(this.#forward(client, derive(this.#seed, n)));
    }
  }

  /** Whether a refuse fault takes this new conn (each draws its toxicity). */
  #refusing(): boolean {
    let refused = false;
    for (const f of this.#faults.values()) {
      if (f.kind === "refuse" && (f.toxicity >= 1 || this.#random() < f.toxicity)) refused = true;
    }
    return refused;
  }

  #track(task: Promise<void>): void {
    const settled = task.catch(() => {});
    this.#tasks.add(settled);
    settled.then(() => this.#tasks.delete(settled));
  }

  async #forward(client: Conn, seed: number): Promise<void> {
    let upstream: Conn;
    try {
      upstream = await dial(this.#upstream, {
        timeout: this.#dialTimeout,
        signal: this.#closing.signal,
      });
    } catch {
      if (!this.#closed) this.#stats.upstreamFailures++;
      await client[Symbol.asyncDispose]();
      return;
    }
    if (this.#closed) {
      await Promise.all([client[Symbol.asyncDispose](), upstream[Symbol.asyncDispose]()]);
      return;
    }
    const stats = this.#stats;
    const conn = new ProxiedConn(client, upstream, {
      faults: () => this.#faults,
      forwarded(way: Way, n: number) {
        if (way === "upstream") stats.bytesUpstream += n;
        else stats.bytesDownstream += n;
      },
      resetFired() {
        stats.resets++;
      },
      ended: (c) => this.#conns.delete(c),
      seed,
    });
    if (!conn.ended) this.#conns.add(conn);
    await conn.finished();
  }
}

const OPTION_KEYS = ["listen", "faults", "dialTimeout", "seed"];

/**
 * Checks an upstream address as `dial()` would, so that one it would reject
 * at once is refused when the proxy is made, not on every conn.
 */
function checkUpstream(upstream: unknown): void {
  if (typeof upstream === "string") {
    const port = /:(\d+)$/.exec(upstream)?.[1];
    if (port === undefined) {
      throw new TypeError(`Upstream must be "host:port": received "${upstream}"`);
    }
    if (Number(port) < 1 || Number(port) > 65535) {
      throw new RangeError(`Upstream port must be from 1 to 65535: received "${upstream}"`);
    }
  } else {
    if (typeof upstream !== "object" || upstream === null) {
      throw new TypeError(
        `Upstream must be a string or { hostname, port }: received ${describe(upstream)}`,
      );
    }
    const { hostname, port } = upstream as { hostname?: unknown; port?: unknown };
    if (hostname !== undefined && typeof hostname !== "string") {
      throw new TypeError(`Upstream hostname must be a string: received ${describe(hostname)}`);
    }
    if (typeof port !== "number") {
      throw new TypeError(`Upstream port must be a number: received ${describe(port)}`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`Upstream port must be from 1 to 65535: received "${port}"`);
    }
  }
  try {
    parseAddress(upstream as Address, "dial");
  } catch (e) {
    throw new TypeError(
      `Upstream ${describe(typeof upstream === "string" ? upstream : joinHost(upstream))} ` +
        `cannot be dialed: ${(e as Error).message}`,
    );
  }
}

function joinHost(upstream: unknown): string {
  const { hostname = "", port } = upstream as { hostname?: string; port: number };
  return `${hostname}:${port}`;
}
