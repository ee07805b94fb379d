/**
 * dial: connect to a TCP address, as Go's `net.Dial` / `net.DialTimeout`.
 *
 * @module
 */

import { type Address, joinHostPort, parseAddress } from "./address.ts";
import { Conn } from "./conn.ts";
import {
  fromAbortReason,
  fromRuntimeError,
  NetError,
  NotSupportedError,
  TimeoutError,
} from "./errors.ts";
import { sockoptSupported } from "./sockopt.ts";

/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
  /**
   * TCP keepalive, as Go's `Dialer.KeepAlive`: `true` or `0` for Go's
   * defaults (probes after 15 s idle, every 15 s, 9 of them; without
   * `--allow-ffi`, keepalive is on with the OS's timing), a number of
   * milliseconds for that idle time and interval (needs `--allow-ffi`),
   * `false` or a negative number for off.
   *
   * @default {true}
   */
  keepAlive?: boolean | number;
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
  checkKeepAlive(keepAlive, "dial");
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
  // setTimeout fires at once for delays over 2^31 - 1 ms (24.8 days); every
  // OS gives up a connect long before that, so such a timeout is no limit.
  const timer = timeout > 0 && timeout <= MAX_TIMER_MS
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
  applyConnOptions(conn, { noDelay, keepAlive });
  return conn;
}

/** Per-conn options that dial and listen apply to each new conn. */
export interface ConnOptions {
  noDelay: boolean;
  keepAlive: boolean | number;
}

/**
 * Checks a keepAlive option before any socket exists: a period needs FFI.
 *
 * @throws {RangeError} For NaN or infinite periods.
 * @throws {NotSupportedError} For a period without `--allow-ffi`.
 */
export function checkKeepAlive(keepAlive: boolean | number, op: "dial" | "listen"): void {
  if (typeof keepAlive === "boolean") return;
  if (typeof keepAlive !== "number") {
    throw new TypeError(
      `Invalid keepAlive "${String(keepAlive)}": want a boolean or milliseconds`,
    );
  }
  if (!Number.isFinite(keepAlive)) {
    throw new RangeError(
      `Invalid keepAlive "${String(keepAlive)}": want a boolean or milliseconds`,
    );
  }
  if (keepAlive > 0 && !sockoptSupported()) {
    throw new NotSupportedError("keepAlive period needs --allow-ffi (Linux or macOS)", { op });
  }
}

/**
 * Applies Nagle and keepalive settings to a fresh conn: Go's defaults unless
 * told otherwise. A conn the peer already reset may refuse options; its first
 * read or write reports that.
 */
export function applyConnOptions(conn: Conn, options: ConnOptions): void {
  const { noDelay, keepAlive } = options;
  try {
    conn.setNoDelay(noDelay);
    if (keepAlive === false || (typeof keepAlive === "number" && keepAlive < 0)) {
      conn.setKeepAlive(false);
    } else if (sockoptSupported()) {
      const period = keepAlive === true ? 0 : keepAlive; // 0: Go's 15 s
      conn.setKeepAliveConfig({ enable: true, idle: period, interval: period });
    } else {
      conn.setKeepAlive(true);
    }
  } catch {
    // The socket is already dead; the next operation says how.
  }
}
