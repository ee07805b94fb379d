/**
 * The option setters and their read-back, through libc; see `mod.ts` for
 * the package's contract.
 *
 * @module
 */

import { getInt, getLingerStruct, libc, libcAvailable, setLingerStruct } from "../_sys/libc.ts";
import {
  checkDuration,
  checkInt,
  resolveFd,
  SECOND,
  setError,
  setOption,
  toSeconds,
} from "../_sys/set.ts";
import type { SocketRef } from "../_sys/fd.ts";
import { checkBoolean, checkKeys, describe } from "../_check.ts";

// Go's defaults for a zero KeepAliveConfig field (net.defaultTCPKeepAlive*).
const DEFAULT_IDLE = 15 * SECOND;
const DEFAULT_INTERVAL = 15 * SECOND;
const DEFAULT_COUNT = 9;

/**
 * sockoptSupported reports whether the options of this module can be used
 * here: the platform is Linux or macOS, `--allow-ffi` is granted and libc
 * loads. It never prompts and never throws.
 *
 * @returns true when {@linkcode connFd} and the setters can work.
 *
 * @example Apply Go's keep-alive defaults only when FFI is allowed
 * ```ts
 * import { connFd, setKeepAliveConfig, sockoptSupported } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * if (sockoptSupported()) setKeepAliveConfig(connFd(conn), { enable: true });
 * else conn.setKeepAlive(true);
 * assert.equal(typeof sockoptSupported(), "boolean");
 * ```
 */
export function sockoptSupported(): boolean {
  return libcAvailable();
}

/**
 * Turns Nagle's algorithm off (`true`, Go's default) or on (TCP_NODELAY):
 * for sockets whose Deno object has no `setNoDelay`, such as a
 * `Deno.TlsConn`.
 *
 * @param socket The conn, listener or fd, as for {@linkcode setKeepAlivePeriod}.
 * @param on True to send small writes at once.
 * @throws {TypeError} When `on` is not a boolean.
 * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
 * @throws {ClosedError} When the socket is closed.
 *
 * @example Nagle off on a TLS conn
 * ```ts
 * import { setNoDelay, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * setNoDelay(conn, true);
 * assert.equal(socketOptions(conn).noDelay, true);
 * ```
 */
export function setNoDelay(socket: SocketRef, on: boolean): void {
  setFlag(socket, on, "setNoDelay", "TCP_NODELAY");
}

/**
 * Turns keep-alive probes on or off (SO_KEEPALIVE), with the timing in
 * effect: for sockets whose Deno object has no `setKeepAlive`, such as a
 * `Deno.TlsConn`.
 *
 * @param socket The conn, listener or fd, as for {@linkcode setKeepAlivePeriod}.
 * @param on True to probe an idle conn.
 * @throws {TypeError} When `on` is not a boolean.
 * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
 * @throws {ClosedError} When the socket is closed.
 *
 * @example
 * ```ts
 * import { setKeepAlive, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * setKeepAlive(conn, true);
 * assert.equal(socketOptions(conn).keepAlive, true);
 * ```
 */
export function setKeepAlive(socket: SocketRef, on: boolean): void {
  setFlag(socket, on, "setKeepAlive", "SO_KEEPALIVE");
}

function setFlag(
  socket: SocketRef,
  on: boolean,
  what: string,
  option: "TCP_NODELAY" | "SO_KEEPALIVE",
): void {
  checkBoolean(on, what);
  const lib = libc(what);
  const { IPPROTO_TCP, SOL_SOCKET } = lib.c;
  const level = option === "TCP_NODELAY" ? IPPROTO_TCP : SOL_SOCKET;
  setOption(lib, resolveFd(lib, socket), level, lib.c[option], on ? 1 : 0, `${what} "${on}"`);
}

/**
 * setKeepAlivePeriod sets how long the connection must be idle before TCP
 * starts sending keep-alive probes, and the time between probes
 * (`TCP_KEEPIDLE` and `TCP_KEEPINTVL`; macOS: `TCP_KEEPALIVE`), as Go's
 * `SetKeepAlivePeriod` did up to Go 1.22. The kernel counts whole seconds:
 * the period is rounded up to the next second, as Go does. A period of 0
 * means Go's default, 15 seconds. It does not turn keep-alive on: use
 * `conn.setKeepAlive(true)` or {@linkcode setKeepAliveConfig}.
 *
 * @param socket The conn, listener or fd: a conn or listener is looked up
 * (see {@linkcode connFd}) on each call.
 * @param ms The period in milliseconds, finite and >= 0.
 * @throws {TypeError} When ms is not a number.
 * @throws {RangeError} When ms is NaN, infinite, negative, or beyond what
 * the OS accepts (Linux: 32767 s).
 * @throws {NotSupportedError} Without `--allow-ffi`, or on a platform other
 * than Linux or macOS.
 * @throws {ClosedError} When the conn or listener is closed (no open socket
 * has its addresses), or the fd is.
 * @throws {NetError} When `setsockopt` fails otherwise.
 *
 * @example Probe after 10 idle seconds, then every 10 seconds
 * ```ts
 * import { connFd, setKeepAlivePeriod, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * conn.setKeepAlive(true);
 * setKeepAlivePeriod(connFd(conn), 9_001); // rounds up to 10 s
 * const { keepAliveIdle, keepAliveInterval } = socketOptions(connFd(conn));
 * assert.deepEqual([keepAliveIdle, keepAliveInterval], [10_000, 10_000]);
 * ```
 */
export function setKeepAlivePeriod(socket: SocketRef, ms: number): void {
  checkDuration(ms, "Keepalive period");
  if (ms < 0) {
    throw new RangeError(`Keepalive period takes milliseconds >= 0: received ${describe(ms)}`);
  }
  const lib = libc("setKeepAlivePeriod");
  const seconds = toSeconds(ms === 0 ? DEFAULT_IDLE : ms, "Keepalive period");
  const { IPPROTO_TCP, TCP_KEEPIDLE, TCP_KEEPINTVL } = lib.c;
  const fd = resolveFd(lib, socket);
  setOption(lib, fd, IPPROTO_TCP, TCP_KEEPIDLE, seconds, `Keepalive period "${ms}" ms`);
  setOption(lib, fd, IPPROTO_TCP, TCP_KEEPINTVL, seconds, `Keepalive period "${ms}" ms`);
}

/**
 * KeepAliveConfig holds TCP keep-alive options, as Go 1.23's
 * `net.KeepAliveConfig`. If `idle`, `interval` or `count` is zero (or left
 * out), a default is used: 15 seconds, 15 seconds, 9. If one is negative,
 * the corresponding socket option is left unchanged.
 */
export interface KeepAliveConfig {
  /**
   * If true, keep-alive probes are enabled; false (Go's zero value) turns
   * them off.
   *
   * @default {false}
   */
  enable?: boolean;
  /**
   * The time, in milliseconds, that the connection must be idle before the
   * first keep-alive probe is sent; rounded up to whole seconds.
   *
   * @default {0} (15 seconds)
   */
  idle?: number;
  /**
   * The time, in milliseconds, between keep-alive probes; rounded up to
   * whole seconds.
   *
   * @default {0} (15 seconds)
   */
  interval?: number;
  /**
   * The maximum number of keep-alive probes that can go unanswered before
   * dropping a connection; an integer.
   *
   * @default {0} (9 probes)
   */
  count?: number;
}

/**
 * setKeepAliveConfig configures the keep-alive messages the OS sends on the
 * connection, as Go 1.23's `TCPConn.SetKeepAliveConfig`: it sets
 * `SO_KEEPALIVE` to `config.enable`, then `TCP_KEEPIDLE`, `TCP_KEEPINTVL` and
 * `TCP_KEEPCNT` from the other fields (see {@linkcode KeepAliveConfig} for
 * zero and negative values). `setKeepAliveConfig(fd, { enable: true })` is
 * Go's dial and accept default: 15 s idle, 15 s interval, 9 probes. The
 * values are checked before any is set; as in Go, the options are then set
 * one by one, so when the OS rejects one the earlier ones stay set.
 *
 * @param socket The conn, listener or fd: a conn or listener is looked up
 * (see {@linkcode connFd}) on each call.
 * @param config The options; fields left out are Go's zero values.
 * @throws {TypeError} When a field has the wrong type.
 * @throws {RangeError} When a duration is NaN or infinite, the count is not
 * an integer, or a value is beyond what the OS accepts.
 * @throws {NotSupportedError} Without `--allow-ffi`, or on a platform other
 * than Linux or macOS.
 * @throws {ClosedError} When the conn or listener is closed (no open socket
 * has its addresses), or the fd is.
 * @throws {NetError} When `setsockopt` fails otherwise.
 *
 * @example Go's defaults, then a shorter idle time and the OS's count
 * ```ts
 * import { connFd, setKeepAliveConfig, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * setKeepAliveConfig(connFd(conn), { enable: true });
 * setKeepAliveConfig(connFd(conn), { enable: true, idle: 5_000, count: -1 });
 * const options = socketOptions(connFd(conn));
 * assert.equal(options.keepAliveIdle, 5_000);
 * assert.equal(options.keepAliveCount, 9); // left as it was
 * ```
 */
export function setKeepAliveConfig(socket: SocketRef, config: KeepAliveConfig): void {
  if (typeof config !== "object" || config === null) {
    throw new TypeError(`Keepalive config takes an object: received ${describe(config)}`);
  }
  checkKeys(config, "Keepalive config", ["enable", "idle", "interval", "count"]);
  const { enable = false, idle = 0, interval = 0, count = 0 } = config;
  if (typeof enable !== "boolean") {
    throw new TypeError(`Keepalive enable takes a boolean: received ${describe(enable)}`);
  }
  checkDuration(idle, "Keepalive idle");
  checkDuration(interval, "Keepalive interval");
  checkInt(count, "Keepalive count");
  const lib = libc("setKeepAliveConfig");
  const { SOL_SOCKET, SO_KEEPALIVE, IPPROTO_TCP, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT } = lib.c;
  const fd = resolveFd(lib, socket);
  setOption(lib, fd, SOL_SOCKET, SO_KEEPALIVE, enable ? 1 : 0, `Keepalive enable "${enable}"`);
  if (idle >= 0) {
    const s = toSeconds(idle === 0 ? DEFAULT_IDLE : idle, "Keepalive idle");
    setOption(lib, fd, IPPROTO_TCP, TCP_KEEPIDLE, s, `Keepalive idle "${idle}" ms`);
  }
  if (interval >= 0) {
    const s = toSeconds(interval === 0 ? DEFAULT_INTERVAL : interval, "Keepalive interval");
    setOption(lib, fd, IPPROTO_TCP, TCP_KEEPINTVL, s, `Keepalive interval "${interval}" ms`);
  }
  if (count >= 0) {
    const n = count === 0 ? DEFAULT_COUNT : count;
    setOption(lib, fd, IPPROTO_TCP, TCP_KEEPCNT, n, `Keepalive count "${count}"`);
  }
}

/**
 * setLinger sets the behavior of close on a connection which still has data
 * waiting to be sent or to be acknowledged, as Go's `SetLinger` (`SO_LINGER`;
 * macOS: `SO_LINGER_SEC`).
 *
 * If sec < 0 (the default), the operating system finishes sending the data
 * in the background. If sec == 0, the operating system discards any unsent
 * or unacknowledged data, and close resets the connection. Deno half-closes
 * a socket (FIN) before it closes it, so the peer's read fails with a reset
 * error only when data was still unsent at close; when all of it had been
 * delivered, the peer reads EOF and only its later writes fail. If sec > 0,
 * the data is sent in the background as with sec < 0; on some operating
 * systems after sec seconds have elapsed any remaining unsent data may be
 * discarded (Linux goes on sending it). On Linux a close with sec > 0 and
 * data still unsent blocks Deno's runtime thread, every timer and I/O
 * callback with it, for up to sec seconds.
 *
 * @param socket The conn, listener or fd: a conn or listener is looked up
 * (see {@linkcode connFd}) on each call.
 * @param sec Whole seconds; any negative integer means the OS default.
 * @throws {TypeError} When sec is not a number.
 * @throws {RangeError} When sec is NaN, not an integer, or above 2147483647.
 * @throws {NotSupportedError} Without `--allow-ffi`, or on a platform other
 * than Linux or macOS.
 * @throws {ClosedError} When the conn or listener is closed (no open socket
 * has its addresses), or the fd is.
 * @throws {NetError} When `setsockopt` fails otherwise.
 *
 * @example Reset the conn on close, then back to the default
 * ```ts
 * import { setLinger, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * setLinger(conn, 0);
 * assert.equal(socketOptions(conn).linger, 0);
 * setLinger(conn, -1);
 * assert.equal(socketOptions(conn).linger, -1);
 * ```
 */
export function setLinger(socket: SocketRef, sec: number): void {
  checkInt(sec, "Linger");
  const lib = libc("setLinger");
  const fd = resolveFd(lib, socket);
  try {
    setLingerStruct(lib, fd, sec >= 0, Math.max(sec, 0));
  } catch (error) {
    throw setError(lib, fd, `Linger "${sec}" s`, error, true);
  }
}

/**
 * setReadBuffer sets the size of the operating system's receive buffer
 * associated with the connection (`SO_RCVBUF`), as Go's `SetReadBuffer`.
 * The kernel adjusts the size: Linux doubles it (for its bookkeeping),
 * clamps it to `net.core.rmem_max` and a minimum, and stops auto-tuning it.
 * {@linkcode socketOptions} reads back the size in effect. Set it on a
 * listener's fd before accepting for the TCP window to be sized from it.
 *
 * @param socket The conn, listener or fd: a conn or listener is looked up
 * (see {@linkcode connFd}) on each call.
 * @param bytes The size, an integer from 0 to 2147483647.
 * @throws {TypeError} When bytes is not a number.
 * @throws {RangeError} When bytes is NaN, negative, not an integer, or too big.
 * @throws {NotSupportedError} Without `--allow-ffi`, or on a platform other
 * than Linux or macOS.
 * @throws {ClosedError} When the conn or listener is closed (no open socket
 * has its addresses), or the fd is.
 * @throws {NetError} When `setsockopt` fails otherwise.
 *
 * @example Ask for 64 KiB; Linux reports twice that
 * ```ts
 * import { connFd, setReadBuffer, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * setReadBuffer(connFd(conn), 65_536);
 * const { readBuffer } = socketOptions(connFd(conn));
 * assert.equal(readBuffer, Deno.build.os === "linux" ? 131_072 : 65_536);
 * ```
 */
export function setReadBuffer(socket: SocketRef, bytes: number): void {
  setBuffer(socket, bytes, "Read buffer size", "SO_RCVBUF");
}

/**
 * setWriteBuffer sets the size of the operating system's transmit buffer
 * associated with the connection (`SO_SNDBUF`), as Go's `SetWriteBuffer`.
 * The kernel adjusts the size: Linux doubles it, clamps it to
 * `net.core.wmem_max` and a minimum, and stops auto-tuning it.
 * {@linkcode socketOptions} reads back the size in effect. A smaller buffer
 * makes writes wait sooner for a slow reader.
 *
 * @param socket The conn, listener or fd: a conn or listener is looked up
 * (see {@linkcode connFd}) on each call.
 * @param bytes The size, an integer from 0 to 2147483647.
 * @throws {TypeError} When bytes is not a number.
 * @throws {RangeError} When bytes is NaN, negative, not an integer, or too big.
 * @throws {NotSupportedError} Without `--allow-ffi`, or on a platform other
 * than Linux or macOS.
 * @throws {ClosedError} When the conn or listener is closed (no open socket
 * has its addresses), or the fd is.
 * @throws {NetError} When `setsockopt` fails otherwise.
 *
 * @example Ask for 32 KiB
 * ```ts
 * import { connFd, setWriteBuffer, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * setWriteBuffer(connFd(conn), 32_768);
 * assert.ok(socketOptions(connFd(conn)).writeBuffer >= 32_768);
 * ```
 */
export function setWriteBuffer(socket: SocketRef, bytes: number): void {
  setBuffer(socket, bytes, "Write buffer size", "SO_SNDBUF");
}

/** Sets SO_RCVBUF or SO_SNDBUF to `bytes`, checked first. */
function setBuffer(
  socket: SocketRef,
  bytes: number,
  what: string,
  option: "SO_RCVBUF" | "SO_SNDBUF",
): void {
  checkInt(bytes, what, 0);
  const lib = libc(option === "SO_RCVBUF" ? "setReadBuffer" : "setWriteBuffer");
  const fd = resolveFd(lib, socket);
  setOption(lib, fd, lib.c.SOL_SOCKET, lib.c[option], bytes, `${what} "${bytes}"`);
}

/** SocketOptions are the option values in effect on a socket, as the kernel reports them. */
export interface SocketOptions {
  /** `TCP_NODELAY`: true when Nagle's algorithm is off (Go's default). */
  noDelay: boolean;
  /** `SO_KEEPALIVE`: true when keep-alive probes are sent. */
  keepAlive: boolean;
  /** `TCP_KEEPIDLE` in milliseconds (whole seconds): idle time before the first probe. */
  keepAliveIdle: number;
  /** `TCP_KEEPINTVL` in milliseconds (whole seconds): time between probes. */
  keepAliveInterval: number;
  /** `TCP_KEEPCNT`: unanswered probes before the connection is dropped. */
  keepAliveCount: number;
  /** `SO_LINGER` in seconds; -1 when off (the OS default). */
  linger: number;
  /** `SO_RCVBUF` in bytes, as reported (Linux: twice the size asked for). */
  readBuffer: number;
  /** `SO_SNDBUF` in bytes, as reported (Linux: twice the size asked for). */
  writeBuffer: number;
}

/**
 * socketOptions reads back the options in effect on a TCP socket with
 * `getsockopt`: what the kernel chose, which may differ from what was set
 * (Linux doubles buffer sizes; durations are whole seconds).
 *
 * @param socket The conn, listener or fd: a conn or listener is looked up
 * (see {@linkcode connFd}) on each call.
 * @returns The values in effect now.
 * @throws {NotSupportedError} Without `--allow-ffi`, or on a platform other
 * than Linux or macOS.
 * @throws {ClosedError} When the conn or listener is closed (no open socket
 * has its addresses), or the fd is.
 * @throws {NetError} When `getsockopt` fails otherwise.
 *
 * @example A fresh Deno conn: no delay, keep-alive off, linger off
 * ```ts
 * import { connFd, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * const options = socketOptions(connFd(conn));
 * assert.equal(options.keepAlive, false);
 * assert.equal(options.linger, -1);
 * assert.ok(options.writeBuffer > 0 && options.readBuffer > 0);
 * ```
 */
export function socketOptions(socket: SocketRef): SocketOptions {
  const lib = libc("socketOptions");
  const fd = resolveFd(lib, socket);
  const c = lib.c;
  try {
    return {
      noDelay: getInt(lib, fd, c.IPPROTO_TCP, c.TCP_NODELAY) !== 0,
      keepAlive: getInt(lib, fd, c.SOL_SOCKET, c.SO_KEEPALIVE) !== 0,
      keepAliveIdle: getInt(lib, fd, c.IPPROTO_TCP, c.TCP_KEEPIDLE) * SECOND,
      keepAliveInterval: getInt(lib, fd, c.IPPROTO_TCP, c.TCP_KEEPINTVL) * SECOND,
      keepAliveCount: getInt(lib, fd, c.IPPROTO_TCP, c.TCP_KEEPCNT),
      linger: getLingerStruct(lib, fd),
      readBuffer: getInt(lib, fd, c.SOL_SOCKET, c.SO_RCVBUF),
      writeBuffer: getInt(lib, fd, c.SOL_SOCKET, c.SO_SNDBUF),
    };
  } catch (error) {
    throw setError(lib, fd, "Reading socket options", error);
  }
}

export { connFd, listenerFd } from "../_sys/fd.ts";
export type { ConnAddrs, ListenerAddr, SocketRef } from "../_sys/fd.ts";
