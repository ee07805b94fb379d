/**
 * dial: connect to a TCP address, as Go's `net.Dial` / `net.DialTimeout`.
 *
 * @module
 */

import { type Address, joinHostPort, parseAddress } from "./address.ts";
import { Conn } from "./conn.ts";
import { fromAbortReason, fromRuntimeError, NetError, TimeoutError } from "./errors.ts";

/** Options for {@linkcode dial}. */
export interface DialOptions {
  /**
   * Milliseconds to wait for the connection, as Go's `DialTimeout`; 0 for no
   * limit beyond the OS's own. A dial that runs out fails with a
   * {@linkcode TimeoutError}.
   *
   * @default {0}
   */
  timeout?: number;
  /** Ends the dial early: it fails with a NetError of kind `"aborted"` whose `cause` is the reason. */
  signal?: AbortSignal;
  /** Turn Nagle's algorithm off, as Go does. @default {true} */
  noDelay?: boolean;
  /** TCP keepalive, on by default as in Go. @default {true} */
  keepAlive?: boolean;
}

/**
 * Connects to a TCP address, as Go's `net.Dial("tcp", address)`.
 *
 * The address is Go's syntax, `"host:port"`, `"[::1]:8001"`, or `":8001"`
 * for the local system (127.0.0.1), or an object like `Deno.NetAddr`. The
 * conn comes with Go's defaults: Nagle off (`noDelay`), keepalive on.
 *
 * A port nobody listens on fails at once with a NetError of kind
 * `"refused"`. A listener whose backlog is full leaves the dial hanging
 * until `timeout` (a {@linkcode TimeoutError}) or `signal` ends it.
 *
 * @param address Where to connect.
 * @param options Timeout, signal and socket options.
 * @returns The connected {@linkcode Conn}.
 * @throws {NetError} Kind `"invalid-address"` for a malformed address, port
 *   0 or a port out of range (before any network I/O); `"refused"`,
 *   `"unreachable"`, `"lookup"` and others from the OS; `"aborted"` when
 *   `signal` fires.
 * @throws {TimeoutError} When `timeout` runs out (or `signal` fires with a timeout reason).
 * @throws {RangeError} When `timeout` is negative, NaN or infinite.
 *
 * @example Dial with a timeout
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * await using conn = await dial(`127.0.0.1:${ln.addr.port}`, { timeout: 5000 });
 * await using peer = await ln.accept();
 * assert.equal(conn.remoteAddr.port, ln.addr.port);
 * assert.equal(peer.remoteAddr.port, conn.localAddr.port);
 * ```
 */
export async function dial(address: Address, options: DialOptions = {}): Promise<Conn> {
  const { timeout = 0, signal, noDelay = true, keepAlive = true } = options;
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout < 0) {
    throw new RangeError(`Invalid dial timeout "${String(timeout)}": want milliseconds >= 0`);
  }
  const parsed = parseAddress(address, "dial");
  const hostname = parsed.hostname === "" ? "127.0.0.1" : parsed.hostname;
  const addr = joinHostPort(hostname, parsed.port);
  if (parsed.port === 0) {
    throw new NetError(`address "${addr}": port 0 cannot be dialed`, {
      op: "dial",
      kind: "invalid-address",
    });
  }
  const site = { op: "dial" as const, addr };
  if (signal?.aborted) throw fromAbortReason(signal.reason, site);

  const controller = new AbortController();
  let timedOut = false;
  const timer = timeout > 0
    ? setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout)
    : undefined;
  const onAbort = (): void => controller.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let raw: Deno.TcpConn;
  try {
    raw = await Deno.connect({
      hostname,
      port: parsed.port,
      transport: "tcp",
      signal: controller.signal,
    });
  } catch (e) {
    if (timedOut) throw new TimeoutError({ ...site, cause: e });
    if (signal?.aborted) throw fromAbortReason(signal.reason, site);
    throw fromRuntimeError(e, site);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  const conn = new Conn(raw);
  applyDefaults(conn, { noDelay, keepAlive });
  return conn;
}

/**
 * Applies Go's per-conn defaults to a fresh conn. A conn the peer already
 * reset may refuse options; its first read or write reports that.
 */
export function applyDefaults(conn: Conn, options: { noDelay: boolean; keepAlive: boolean }): void {
  try {
    conn.setNoDelay(options.noDelay);
    conn.setKeepAlive(options.keepAlive);
  } catch {
    // The socket is already dead; the next operation says how.
  }
}
