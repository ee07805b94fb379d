/**
 * listen and Listener: accept TCP connections, as Go's `net.Listen` and
 * `net.TCPListener`.
 *
 * @module
 */

import { type Address, formatAddr, joinHostPort, normalizeAddr, parseAddress } from "./address.ts";
import { Conn } from "./conn.ts";
import { Deadline, type DeadlineTime } from "./deadline.ts";
import { applyConnOptions, checkKeepAlive, type ConnOptions } from "./dial.ts";
import { checkReusePort, maxListenerBacklog, releaseFd } from "./sockopt.ts";
import {
  ClosedError,
  fromAbortReason,
  fromRuntimeError,
  type NetError,
  TimeoutError,
} from "./errors.ts";
import { dueInterrupt, Fifo, type Interrupt, isInterrupt, waitFor } from "./_wait.ts";

/** Options for {@linkcode listen}. */
export interface ListenOptions {
  /**
   * The length of the queue of connections the OS completes before
   * `accept` takes them. About `backlog + 1` dials succeed while nobody
   * accepts; later ones hang. The OS caps it at its maximum.
   *
   * @default {the OS maximum, as Go reads it (Linux: net.core.somaxconn)}
   */
  backlog?: number;
  /**
   * Let several listeners bind the same address, the kernel spreading
   * connections among them (SO_REUSEPORT). Deno needs `--unstable-net` for
   * it; without the flag `listen` throws {@linkcode NotSupportedError}
   * (where Deno itself would end the process).
   *
   * @default {false}
   */
  reusePort?: boolean;
  /** Turn Nagle's algorithm off on accepted conns, as Go does. @default {true} */
  noDelay?: boolean;
  /**
   * TCP keepalive on accepted conns, as `DialOptions.keepAlive`: Go's 15 s
   * defaults when `true`, a period in milliseconds (needs `--allow-ffi`),
   * `false` for off.
   *
   * @default {true}
   */
  keepAlive?: boolean | number;
}

/** Options for {@linkcode Listener.accept}. */
export interface AcceptOptions {
  /** Ends this accept early; a connection that arrives later goes to the next accept. */
  signal?: AbortSignal;
}

/**
 * Listens for TCP connections, as Go's `net.Listen("tcp", address)`.
 *
 * `":8001"` (or an object without `hostname`) listens on every interface,
 * IPv4 and IPv6, as in Go; port 0 picks a free port, which
 * {@linkcode Listener.addr} reports. SO_REUSEADDR is on, as in Go, so a
 * restarted server can listen again at once.
 *
 * @param address Where to listen.
 * @param options Backlog and options for accepted conns.
 * @returns The listener.
 * @throws {NetError} Kind `"invalid-address"` for a malformed address or a
 *   port out of range; `"addr-in-use"` when the address is taken;
 *   `"addr-not-available"` when the host is not local.
 * @throws {RangeError} When `backlog` is not an integer >= 0.
 *
 * @example Listen on a free port and accept one conn
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * assert.ok(ln.addr.port > 0);
 * await using client = await dial(ln.addr);
 * await using server = await ln.accept();
 * assert.equal(server.localAddr.port, ln.addr.port);
 * ```
 */
export function listen(address: Address, options: ListenOptions = {}): Listener {
  const { backlog = maxListenerBacklog(), reusePort = false, noDelay = true, keepAlive = true } =
    options;
  if (!Number.isInteger(backlog) || backlog < 0) {
    throw new RangeError(`Invalid backlog "${String(backlog)}": want an integer >= 0`);
  }
  checkKeepAlive(keepAlive, "listen");
  if (reusePort) checkReusePort();
  const { hostname, port } = parseAddress(address, "listen");
  const hosts = hostname === "" ? ["::", "0.0.0.0"] : [hostname];
  let error: unknown;
  for (const host of hosts) {
    try {
      const ln = Deno.listen({
        hostname: host,
        port,
        transport: "tcp",
        tcpBacklog: backlog,
        ...(reusePort ? { reusePort } : {}),
      });
      return new Listener(ln, { noDelay, keepAlive });
    } catch (e) {
      error = e; // "::" fails where IPv6 is off: try IPv4 only
    }
  }
  throw fromRuntimeError(error, { op: "listen", addr: joinHostPort(hosts.at(-1)!, port) });
}

/**
 * Listener accepts TCP connections, made by {@linkcode listen}.
 *
 * `accept()` waits for the next connection; concurrent accepts are served in
 * order. {@linkcode Listener.setDeadline} bounds waiting accepts, as Go's
 * `TCPListener.SetDeadline`: when it passes they fail with a
 * {@linkcode TimeoutError}, and a connection that arrives later is kept for
 * the next accept, never lost. After {@linkcode Listener.close}, every
 * pending and later accept fails with {@linkcode ClosedError}; once they have
 * failed, the port can be listened on again at once.
 *
 * Iterating a listener (`for await (const conn of ln)`) accepts until it is
 * closed.
 *
 * @example Serve until closed
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const ln = listen("127.0.0.1:0");
 * const served = (async () => {
 *   let count = 0;
 *   for await (const conn of ln) {
 *     await conn.write(new Uint8Array([count++]));
 *     conn.close();
 *   }
 *   return count;
 * })();
 * for (let i = 0; i < 3; i++) {
 *   await using conn = await dial(ln.addr);
 *   const buf = new Uint8Array(1);
 *   assert.equal(await conn.read(buf), 1);
 *   assert.equal(buf[0], i);
 * }
 * await ln[Symbol.asyncDispose]();
 * assert.equal(await served, 3);
 * ```
 */
export class Listener implements AsyncDisposable, AsyncIterable<Conn> {
  #ln: Deno.TcpListener;
  #addr: Deno.NetAddr;
  #site: { op: "accept"; addr: string };
  #connOptions: ConnOptions;
  #deadline = new Deadline();
  #accepts = new Fifo();
  #pending: Promise<Deno.TcpConn> | null = null; // a runtime accept, still running
  #closed = false;

  /**
   * Wraps a Deno TCP listener; {@linkcode listen} is the usual way to get one.
   *
   * @param ln The listener. The Listener owns it from now on.
   * @param options Options applied to each accepted conn.
   */
  constructor(ln: Deno.TcpListener, options: Partial<ConnOptions> = {}) {
    this.#ln = ln;
    this.#addr = normalizeAddr(ln.addr);
    this.#site = { op: "accept", addr: formatAddr(this.#addr) };
    this.#connOptions = { noDelay: options.noDelay ?? true, keepAlive: options.keepAlive ?? true };
  }

  /** The address the listener is bound to, with the port the OS picked for port 0. */
  get addr(): Deno.NetAddr {
    return this.#addr;
  }

  /**
   * Waits for and returns the next connection.
   *
   * @param options A signal that ends this accept early.
   * @returns The accepted {@linkcode Conn}, with the listener's conn options applied.
   * @throws {TimeoutError} The deadline passed.
   * @throws {ClosedError} The listener was closed.
   * @throws {NetError} `signal` fired (`"aborted"`), or the OS refused (e.g. too many open files).
   */
  async accept(options: AcceptOptions = {}): Promise<Conn> {
    const { signal } = options;
    if (this.#closed) throw new ClosedError(this.#site);
    const due = dueInterrupt(this.#deadline, signal);
    if (due !== undefined) throw this.#interruptError(due);
    try {
      if (!this.#accepts.tryAcquire()) await this.#accepts.acquire(this.#deadline, signal);
    } catch (e) {
      throw await this.#acceptError(e);
    }
    try {
      const op = this.#pending ??= this.#ln.accept();
      const raw = await waitFor(op, this.#deadline, signal);
      this.#pending = null;
      const conn = new Conn(raw);
      applyConnOptions(conn, this.#connOptions);
      return conn;
    } catch (e) {
      throw await this.#acceptError(e);
    } finally {
      this.#accepts.release();
    }
  }

  /**
   * Sets the deadline for pending and future accepts, as Go's
   * `TCPListener.SetDeadline`: absolute, movable, `null` or `0` for none.
   *
   * @param t A `Date` or epoch milliseconds; `null` or `0` for none.
   * @throws {RangeError} If `t` is NaN, infinite or an invalid `Date`.
   * @throws {ClosedError} If the listener is closed.
   */
  setDeadline(t: DeadlineTime): void {
    if (this.#closed) throw new ClosedError(this.#site);
    this.#deadline.set(t);
  }

  /**
   * Stops listening. Pending and later accepts fail with
   * {@linkcode ClosedError}. Calling it again does nothing. Conns already
   * accepted stay open.
   *
   * Deno frees the port once its own pending accept has settled, a moment
   * after `close()`: await a pending `accept()`, or use
   * `await ln[Symbol.asyncDispose]()`, before listening on the port again.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deadline.dispose();
    this.#accepts.close();
    try {
      this.#ln.close();
    } catch {
      // Already closed by the runtime: nothing to undo.
    }
    releaseFd(this.#ln);
    // A connection that won the race with close() is closed, not leaked.
    this.#pending?.then((conn) => conn.close(), () => {});
  }

  /** Closes the listener and waits until its port is free. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#settled();
  }

  /** Accepts connections until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<Conn> {
    while (true) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
    }
  }

  async #settled(): Promise<void> {
    await this.#pending?.then(() => {}, () => {});
  }

  async #acceptError(e: unknown): Promise<NetError> {
    if (isInterrupt(e) && e.kind !== "closed") return this.#interruptError(e);
    if (!isInterrupt(e)) this.#pending = null; // the runtime accept failed: it is over
    if (this.#closed) {
      await this.#settled(); // so the port is free when the caller sees the error
      return new ClosedError({ ...this.#site, cause: e });
    }
    return fromRuntimeError(e, this.#site);
  }

  #interruptError(why: Interrupt): NetError {
    if (why.kind === "deadline") return new TimeoutError(this.#site);
    if (why.kind === "abort") return fromAbortReason(why.reason, this.#site);
    return new ClosedError(this.#site);
  }
}
