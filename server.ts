/**
 * serve and Server: Go's `http.Server` lifecycle for raw conns. One task per
 * conn, errors kept with their conn, accept that survives running out of
 * descriptors, idle-first graceful shutdown, a connection limit and an idle
 * timeout.
 *
 * @module
 */

import { type Address, formatAddr, type UnixAddress } from "./address.ts";
import type { Conn } from "./conn.ts";
import type { TcpConn } from "./tcp.ts";
import type { UnixConn } from "./unix.ts";
import { NetError } from "./errors.ts";
import { listen, Listener } from "./listener.ts";
import { checkKeys, checkOptions, checkSignal, describe, optionError } from "./_check.ts";
import { MAX_TIMER_MS } from "./_io/timers.ts";
import { WATCH_IDLE } from "./_idle.ts";
import { Backoff, pause } from "./_accept_retry.ts";

/** A deadline long past, as Go's `aLongTimeAgo` (1977): it wakes every waiting operation. */
const LONG_AGO = 233431200_000;

/** What {@linkcode serve} runs for each conn, in its own task. */
export type Handler<C extends Conn = TcpConn> = (conn: C) => void | Promise<void>;

/** Options for {@linkcode serve}. */
export interface ServeOptions<C extends Conn = TcpConn> {
  /**
   * Told about every error a handler throws or rejects with, with its conn
   * (already closed when this is called). An `onError` that throws is
   * caught: its error goes to stderr. Errors a conn meets because the server
   * closed it (shutdown, `idleTimeout`) are not reported.
   *
   * @default {one line on stderr with the peer's address}
   */
  onError?: (error: unknown, conn: C) => void;
  /**
   * The most conns served at once. At the limit the server stops accepting,
   * so new clients wait in the kernel's backlog (Go's
   * `netutil.LimitListener`); it accepts again when a handler ends.
   *
   * @default {no limit}
   */
  maxConns?: number;
  /**
   * Closes a conn that has read no bytes for this many milliseconds. One
   * timer per server samples each conn's `bytesRead` every quarter of it,
   * so a conn goes between `idleTimeout` and 1.25 × `idleTimeout` after
   * its last byte. Writing does not count as activity.
   *
   * @default {none}
   */
  idleTimeout?: number;
}

/** Options for {@linkcode Server.shutdown}. */
export interface ShutdownOptions {
  /**
   * Milliseconds to wait for busy conns before forcing them closed.
   *
   * @default {wait as long as they take}
   */
  timeout?: number;
  /** Forces the remaining conns closed when it fires, as a passed `timeout` would. */
  signal?: AbortSignal;
}

/** What {@linkcode Server.shutdown} resolves with. */
export interface ShutdownResult {
  /**
   * Of the conns open when shutdown began: those that ended by themselves,
   * or were closed while idle. (Conns that ended before it are not counted.)
   */
  finished: number;
  /** Conns still busy when the timeout passed or the signal fired: woken and closed. */
  forced: number;
}

/** Counters of a {@linkcode Server}, from {@linkcode Server.stats}. */
export interface ServerStats {
  /** Conns accepted since the server started. */
  accepted: number;
  /** Conns whose handler is running now. */
  active: number;
  /** Of those, conns idle now: blocked in `read` with nothing buffered or queued to write. */
  idle: number;
  /** Errors handlers threw or rejected with (reported to `onError`). */
  errors: number;
  /** Failed accepts that were retried after a pause. */
  acceptRetries: number;
}

/** One conn the server holds, from accept until it is disposed. */
interface Entry<C> {
  conn: C;
  ended: boolean; // its handler has returned or thrown
  closedByServer: boolean; // idle during shutdown, idleTimeout, or forced
  forced: boolean;
  released: boolean; // disposed and counted out
  watch: (() => void) | null; // the idle callback, during shutdown
  bytesRead: number; // for idleTimeout: the count at the last sweep
  movedAt: number; // for idleTimeout: when the count last moved
}

const SERVE_OPTIONS = ["onError", "maxConns", "idleTimeout"];
const SHUTDOWN_OPTIONS = ["timeout", "signal"];

/**
 * Serves conns from a unix socket listener; see the TCP form.
 *
 * @param listener The listener; the server owns it and closes it when it stops.
 * @param handler Runs for each conn, in its own task.
 * @param options onError, maxConns, idleTimeout.
 * @returns The running server.
 */
export function serve(
  listener: Listener<UnixConn>,
  handler: Handler<UnixConn>,
  options?: ServeOptions<UnixConn>,
): Server<UnixConn>;
/**
 * Listens on a unix socket and serves its conns; see the TCP form.
 *
 * @param address `{ transport: "unix", path }`.
 * @param handler Runs for each conn, in its own task.
 * @param options onError, maxConns, idleTimeout.
 * @returns The running server.
 */
export function serve(
  address: UnixAddress,
  handler: Handler<UnixConn>,
  options?: ServeOptions<UnixConn>,
): Server<UnixConn>;
/**
 * Serves conns, as Go's `http.Server.Serve` does for HTTP: each accepted
 * conn runs `handler(conn)` in its own task (the accept loop never waits
 * for a handler), and the conn is closed when the handler's promise
 * settles, so return a promise that covers the conn's whole life.
 *
 * - **Errors stay with their conn.** A handler that throws or rejects never
 *   reaches the process: the error goes to `options.onError(error, conn)`
 *   (default: one line on stderr with the peer's address), the conn is
 *   closed and the server goes on.
 * - **Accept survives.** A failed accept (too many open files, out of
 *   memory or buffers, a connection aborted in the backlog) is retried
 *   after 5 ms, doubling up to 1 s, as Go's `http.Server`; only closing the
 *   listener ends the accept loop.
 * - **Graceful shutdown** with {@linkcode Server.shutdown}: idle conns
 *   first, busy ones when they turn idle or finish, stuck ones forced.
 *
 * Given an address, it listens first (as {@linkcode listen}); given a
 * {@linkcode Listener}, it takes it over. Either way the server closes the
 * listener when it stops. Every argument is checked before anything starts.
 *
 * @param target A netconn Listener, or an address to listen on.
 * @param handler Runs for each conn, in its own task.
 * @param options onError, maxConns, idleTimeout.
 * @returns The running server.
 * @throws {TypeError} If the handler is not a function, the target is
 *   neither a Listener nor an address, an option has the wrong type, or an
 *   option's name is not known.
 * @throws {RangeError} If `maxConns` is not an integer >= 1 or `idleTimeout`
 *   is not a number of ms > 0.
 * @throws {NetError} As {@linkcode listen}, for an address.
 *
 * @example An echo server, shut down gracefully
 * ```ts
 * import { dial, serve } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const server = serve("127.0.0.1:0", async (conn) => {
 *   const buf = new Uint8Array(1024);
 *   for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
 *     await conn.write(buf.subarray(0, n));
 *   }
 * });
 * const client = await dial(server.addr);
 * await client.write(new TextEncoder().encode("hello"));
 * const buf = new Uint8Array(5);
 * assert.equal(await client.read(buf), 5);
 *
 * // The client is idle (the handler waits in read): shutdown closes it at once.
 * assert.deepEqual(await server.shutdown({ timeout: 5000 }), { finished: 1, forced: 0 });
 * assert.equal(await client.read(buf), null);
 * client.close();
 * await server.finished;
 * ```
 */
export function serve(
  target: Listener | Address,
  handler: Handler<TcpConn>,
  options?: ServeOptions<TcpConn>,
): Server<TcpConn>;
/**
 * Serves the conns of any netconn listener, a TLS one included: see the
 * first overload.
 *
 * @param listener The listener; the server owns it from now on.
 * @param handler Runs once per conn, in its own task.
 * @param options Error handling, limits, idle timeout.
 * @returns The running server.
 */
export function serve<C extends Conn>(
  listener: Listener<C>,
  handler: Handler<C>,
  options?: ServeOptions<C>,
): Server<C>;
export function serve(
  target: Listener<TcpConn> | Listener<UnixConn> | Address | UnixAddress,
  handler: Handler<TcpConn> | Handler<UnixConn>,
  options?: ServeOptions<TcpConn> | ServeOptions<UnixConn>,
): Server<TcpConn> | Server<UnixConn> {
  checkHandler(handler, "serve");
  const checked = checkServeOptions(options as ServeOptions<TcpConn> | undefined);
  if (!(target instanceof Listener)) {
    if (
      typeof target === "object" && target !== null &&
      typeof (target as { accept?: unknown }).accept === "function"
    ) {
      throw new TypeError(
        "serve takes a netconn Listener or an address: received a Deno listener; " +
          "wrap it as new Listener(raw), or pass its address",
      );
    }
  }
  const ln = target instanceof Listener ? target : listen(target as Address);
  return new Server(ln as Listener<TcpConn>, handler as Handler<TcpConn>, checked);
}

/** Throws a TypeError unless `handler` is a function. */
function checkHandler(handler: unknown, where: string): void {
  if (typeof handler !== "function") {
    throw new TypeError(`${where} takes a handler function: received ${describe(handler)}`);
  }
}

/** Checks serve's options, every one, before anything starts. */
function checkServeOptions<C extends Conn>(
  options: ServeOptions<C> | undefined,
  where = "serve",
): ServeOptions<C> {
  const checked = checkOptions(options, where);
  checkKeys(checked, where, SERVE_OPTIONS);
  const { onError, maxConns, idleTimeout } = checked;
  if (onError !== undefined && typeof onError !== "function") {
    throw optionError(where, "onError", "a function", onError);
  }
  if (maxConns !== undefined) {
    if (typeof maxConns !== "number") throw optionError(where, "maxConns", "a number", maxConns);
    if (!Number.isInteger(maxConns) || maxConns < 1) {
      throw new RangeError(
        `${where} option "maxConns" must be an integer >= 1: received ${describe(maxConns)}`,
      );
    }
  }
  if (idleTimeout !== undefined) {
    if (typeof idleTimeout !== "number") {
      throw optionError(where, "idleTimeout", "milliseconds", idleTimeout);
    }
    if (!(idleTimeout > 0 && idleTimeout <= MAX_TIMER_MS)) {
      throw new RangeError(
        `${where} option "idleTimeout" must be milliseconds > 0 and <= ${MAX_TIMER_MS}: received ${
          describe(idleTimeout)
        }`,
      );
    }
  }
  return checked;
}

/** Checks shutdown's options; returns them. */
function checkShutdownOptions(options: ShutdownOptions | undefined): ShutdownOptions {
  const checked = checkOptions(options, "Server.shutdown");
  checkKeys(checked, "Server.shutdown", SHUTDOWN_OPTIONS);
  const { timeout, signal } = checked;
  if (timeout !== undefined) {
    if (typeof timeout !== "number") {
      throw optionError("Server.shutdown", "timeout", "milliseconds", timeout);
    }
    if (!(timeout >= 0 && timeout <= MAX_TIMER_MS)) {
      throw new RangeError(
        `Server.shutdown option "timeout" must be milliseconds >= 0 and <= ${MAX_TIMER_MS}: received ${
          describe(timeout)
        }`,
      );
    }
  }
  checkSignal(signal, "Server.shutdown");
  return checked;
}

/** The default onError: one line on stderr, with the peer's address. */
function logError(error: unknown, conn: Conn): void {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const peer = formatAddr(conn.remoteAddr) || "unix peer";
  console.error(`serve: conn from ${peer}: ${text.split("\n")[0]}`);
}

/**
 * Server is a running {@linkcode serve}: its address, its counters, and its
 * end.
 *
 * Its life: serving → (shutdown or close) draining → stopped. While it
 * drains it accepts nothing (the port is closed: dials are refused), closes
 * each conn as soon as it is idle (its handler waits in `read` with nothing
 * buffered and nothing queued to write), and lets busy handlers go on;
 * `shutdown`'s timeout or signal, or {@linkcode Server.close}, then forces
 * the rest: each gets a deadline in the past, which wakes whatever it
 * waits on with a {@linkcode TimeoutError}, and is closed.
 *
 * "Idle" is the conn's view: a handler that buffers above the conn (a
 * `BufReader` holding half a message) is idle when it waits for the rest.
 *
 * @example Stop on SIGTERM (the pattern; this example does not send it)
 * ```ts
 * import { serve } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const server = serve("127.0.0.1:0", async (conn) => {
 *   await conn.write(new TextEncoder().encode("hello\n"));
 * });
 * const onTerm = async () => {
 *   const { forced } = await server.shutdown({ timeout: 10_000 });
 *   if (forced > 0) console.error(`${forced} conns were forced closed`);
 * };
 * Deno.addSignalListener("SIGTERM", onTerm);
 *
 * assert.equal(server.stats().active, 0);
 * Deno.removeSignalListener("SIGTERM", onTerm);
 * await server[Symbol.asyncDispose]();
 * ```
 */
export class Server<C extends Conn = TcpConn> implements AsyncDisposable {
  #ln: Listener<C>;
  #handler: Handler<C>;
  #onError: (error: unknown, conn: C) => void;
  #maxConns: number;
  #idleTimeout: number; // 0: none
  #conns = new Set<Entry<C>>(); // conns whose handler runs, or that are being disposed
  #active = 0; // handlers running
  #open = 0; // conns not yet disposed
  #accepted = 0;
  #errors = 0;
  #acceptRetries = 0;
  // Life: "serving" → "draining" (shutdown or close) → forced (a timeout,
  // signal or close forced the rest); #acceptEnded once the loop is out.
  #draining = false;
  #forcedAll = false;
  #acceptEnded = false;
  #listenerFree = false; // the listener is closed and its port free
  #stop = new AbortController(); // ends the accept loop's back-off
  #slotFreed: (() => void) | null = null; // wakes the accept loop at maxConns
  #sweep: ReturnType<typeof setInterval> | undefined;
  #drainCount = 0; // conns present when draining started, and accepted in the race after
  #forcedCount = 0;
  #cleanups = new Set<() => void>(); // shutdown's timers and signal listeners
  #result: Promise<ShutdownResult>;
  #resolveResult!: (result: ShutdownResult) => void;
  #finished: Promise<void>;
  #resolveFinished!: () => void;

  /**
   * Serves `ln`, as {@linkcode serve} does with a listener; `serve` is the
   * usual way.
   *
   * @param ln The listener, owned by the server from now on.
   * @param handler Runs for each conn.
   * @param options onError, maxConns, idleTimeout.
   * @throws {TypeError} As {@linkcode serve}, or if `ln` is not a netconn Listener.
   * @throws {RangeError} As {@linkcode serve}.
   */
  constructor(ln: Listener<C>, handler: Handler<C>, options?: ServeOptions<C>) {
    if (!(ln instanceof Listener)) {
      throw new TypeError(`new Server takes a netconn Listener: received ${describe(ln)}`);
    }
    checkHandler(handler, "new Server");
    options = checkServeOptions(options, "new Server");
    this.#ln = ln;
    this.#handler = handler;
    this.#onError = options.onError ?? logError;
    this.#maxConns = options.maxConns ?? Infinity;
    this.#idleTimeout = options.idleTimeout ?? 0;
    this.#result = new Promise((resolve) => this.#resolveResult = resolve);
    this.#finished = new Promise((resolve) => this.#resolveFinished = resolve);
    if (this.#idleTimeout > 0) {
      const every = Math.max(1, Math.floor(this.#idleTimeout / 4));
      this.#sweep = setInterval(() => this.#sweepIdle(), every);
    }
    void this.#acceptLoop();
  }

  /** The address the server listens on (the listener's). */
  get addr(): C extends UnixConn ? Deno.UnixAddr : Deno.NetAddr {
    return this.#ln.addr;
  }

  /**
   * Resolves once the server has stopped (by {@linkcode Server.shutdown},
   * {@linkcode Server.close}, or its listener closed) and every handler has
   * ended. It never rejects. A handler that never returns, even after its
   * conn was forced closed, holds it.
   */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /**
   * Counters: conns accepted, active (handler running), idle now, handler
   * errors, and retried accepts.
   *
   * @returns A fresh snapshot.
   */
  stats(): ServerStats {
    let idle = 0;
    for (const entry of this.#conns) {
      if (!entry.ended && entry.conn[WATCH_IDLE](entry.watch)) idle++;
    }
    return {
      accepted: this.#accepted,
      active: this.#active,
      idle,
      errors: this.#errors,
      acceptRetries: this.#acceptRetries,
    };
  }

  /**
   * Stops the server gracefully, as Go's `http.Server.Shutdown`: stops
   * accepting at once (the port is closed), closes idle conns at once and
   * each busy conn as soon as it turns idle, and lets busy handlers finish.
   * When `timeout` passes or `signal` fires, the conns left are woken with
   * a deadline in the past and closed. Calling it again joins the same
   * shutdown; a shorter timeout forces sooner.
   *
   * @param options How long to wait for busy conns, or a signal to stop waiting.
   * @returns Once every conn is closed (a forced conn's handler may still
   *   run; {@linkcode Server.finished} waits for it): how many conns ended by
   *   themselves or idle, and how many were forced.
   * @throws {TypeError} (rejects) For an option of the wrong type or an unknown option.
   * @throws {RangeError} (rejects) For a negative or non-finite timeout.
   *
   * @example A busy conn finishes, then the server stops
   * ```ts
   * import { dial, serve } from "@netconn/netconn";
   * import assert from "node:assert/strict";
   *
   * const { promise: started, resolve: start } = Promise.withResolvers<void>();
   * const server = serve("127.0.0.1:0", async (conn) => {
   *   start();
   *   await new Promise((resolve) => setTimeout(resolve, 50)); // busy: not in read
   *   await conn.write(new TextEncoder().encode("done"));
   * });
   * await using client = await dial(server.addr);
   * await started;
   * const result = await server.shutdown({ timeout: 5000 });
   * assert.deepEqual(result, { finished: 1, forced: 0 });
   * const buf = new Uint8Array(4);
   * assert.equal(await client.read(buf), 4);
   * await server.finished;
   * ```
   */
  shutdown(options?: ShutdownOptions): Promise<ShutdownResult> {
    let checked: ShutdownOptions;
    try {
      checked = checkShutdownOptions(options);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#drain();
    const { timeout, signal } = checked;
    if (!this.#forcedAll) {
      if (timeout === 0 || signal?.aborted) this.#force();
      else {
        if (timeout !== undefined) {
          const id = setTimeout(() => this.#force(), timeout);
          this.#cleanups.add(() => clearTimeout(id));
        }
        if (signal !== undefined) {
          const onAbort = (): void => this.#force();
          signal.addEventListener("abort", onAbort, { once: true });
          this.#cleanups.add(() => signal.removeEventListener("abort", onAbort));
        }
      }
    }
    return this.#result;
  }

  /**
   * Stops the server at once, the hard form of {@linkcode Server.shutdown}:
   * stops accepting, wakes every conn with a deadline in the past and
   * closes it. Await {@linkcode Server.finished} for the handlers to end.
   * Calling it again does nothing.
   */
  close(): void {
    this.#drain();
    this.#force();
  }

  /** Closes the server ({@linkcode Server.close}) and waits for {@linkcode Server.finished}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#result;
    await this.#finished;
  }

  async #acceptLoop(): Promise<void> {
    const backoff = new Backoff();
    while (!this.#draining) {
      if (this.#active >= this.#maxConns) {
        // At the limit: accept nothing; clients wait in the kernel's backlog.
        await new Promise<void>((resolve) => this.#slotFreed = resolve);
        this.#slotFreed = null;
        continue;
      }
      let conn: C;
      try {
        conn = await this.#ln.accept();
      } catch (e) {
        if (this.#draining) break;
        if (e instanceof NetError && e.kind === "closed") {
          // Closed under us: stop as a shutdown without a timeout would.
          this.#drain();
          break;
        }
        // Every other failure is retried: a server outlives a bad moment.
        this.#acceptRetries++;
        await pause(backoff.next(), this.#stop.signal);
        continue;
      }
      backoff.reset();
      void this.#serveConn(conn);
    }
    this.#acceptEnded = true;
    this.#settle();
  }

  /** Runs the handler for one conn; never rejects. */
  async #serveConn(conn: C): Promise<void> {
    const entry: Entry<C> = {
      conn,
      ended: false,
      closedByServer: false,
      forced: false,
      released: false,
      watch: null,
      bytesRead: 0,
      movedAt: performance.now(),
    };
    this.#conns.add(entry);
    this.#accepted++;
    this.#active++;
    this.#open++;
    if (this.#draining) {
      // Accepted in the race with shutdown: drained as the others.
      this.#drainCount++;
      if (this.#forcedAll) this.#forceOne(entry);
      else this.#watchIdle(entry);
    }
    try {
      await this.#handler(conn);
    } catch (e) {
      conn.close();
      if (!(entry.closedByServer && e instanceof NetError)) this.#report(e, conn);
    }
    entry.ended = true;
    this.#active--;
    this.#slotFreed?.();
    conn[WATCH_IDLE](null);
    try {
      await conn[Symbol.asyncDispose]();
    } catch {
      // Disposal only waits for the runtime: nothing to report.
    }
    this.#conns.delete(entry);
    this.#release(entry);
    this.#settle();
  }

  /** Hands a handler's error to onError, which must not take the server down either. */
  #report(error: unknown, conn: C): void {
    this.#errors++;
    try {
      this.#onError(error, conn);
    } catch (e) {
      try {
        console.error(`serve: onError threw: ${e instanceof Error ? e.message : String(e)}`);
      } catch {
        // stderr is gone: nothing left to tell.
      }
    }
  }

  /** A conn is disposed: counted out once. */
  #release(entry: Entry<C>): void {
    if (entry.released) return;
    entry.released = true;
    this.#open--;
  }

  /** Starts draining, once: stop accepting, close idle conns, watch the busy ones. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#stop.abort();
    this.#slotFreed?.();
    const free = (): void => {
      this.#listenerFree = true;
      this.#settle();
    };
    this.#ln[Symbol.asyncDispose]().then(free, free);
    for (const entry of this.#conns) {
      if (entry.ended) continue;
      this.#drainCount++;
      this.#watchIdle(entry);
    }
  }

  /** Closes the conn once it is idle: now, or when it turns idle. */
  #watchIdle(entry: Entry<C>): void {
    entry.watch = () => this.#closeByServer(entry);
    if (entry.conn[WATCH_IDLE](entry.watch)) this.#closeByServer(entry);
  }

  #closeByServer(entry: Entry<C>): void {
    if (entry.closedByServer || entry.ended) return;
    entry.closedByServer = true;
    entry.conn.close();
  }

  /** Forces every conn still served, once. */
  #force(): void {
    if (this.#forcedAll) return;
    this.#forcedAll = true;
    for (const entry of this.#conns) this.#forceOne(entry);
    this.#settle();
  }

  /** Wakes a busy conn with a deadline in the past, closes it, and counts it out once disposed. */
  #forceOne(entry: Entry<C>): void {
    if (entry.ended || entry.closedByServer) return;
    entry.closedByServer = true;
    entry.forced = true;
    this.#forcedCount++;
    try {
      entry.conn.setDeadline(LONG_AGO); // long past, and not "no deadline"
    } catch {
      // Closed by its handler already.
    }
    const release = (): void => {
      this.#release(entry);
      this.#settle();
    };
    entry.conn[Symbol.asyncDispose]().then(release, release);
  }

  /** Resolves shutdown's result and `finished` when their time has come. */
  #settle(): void {
    if (!this.#draining || !this.#acceptEnded || !this.#listenerFree) return;
    if (this.#open === 0) {
      for (const cleanup of this.#cleanups) cleanup();
      this.#cleanups.clear();
      this.#resolveResult({
        finished: this.#drainCount - this.#forcedCount,
        forced: this.#forcedCount,
      });
    }
    if (this.#open === 0 && this.#active === 0) {
      if (this.#sweep !== undefined) clearInterval(this.#sweep);
      this.#sweep = undefined;
      this.#resolveFinished();
    }
  }

  /** idleTimeout: closes conns whose bytesRead has not moved for the timeout. */
  #sweepIdle(): void {
    const now = performance.now();
    for (const entry of this.#conns) {
      if (entry.ended || entry.closedByServer) continue;
      const read = entry.conn.stats().bytesRead;
      if (read !== entry.bytesRead) {
        entry.bytesRead = read;
        entry.movedAt = now;
      } else if (now - entry.movedAt >= this.#idleTimeout) {
        this.#closeByServer(entry);
      }
    }
  }
}
