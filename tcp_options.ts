/**
 * The TCP socket under a {@linkcode TcpConn} or {@linkcode TlsConn}: the
 * options a new conn gets (Go's defaults: Nagle off, keepalive on), and the
 * socket options set while it is open. The conn classes' option methods are
 * one line each over these.
 *
 * @module
 */

import {
  type KeepAliveConfig,
  setKeepAlive,
  setKeepAliveConfig,
  setKeepAlivePeriod,
  setLinger,
  setNoDelay,
  setReadBuffer,
  setWriteBuffer,
  type SocketOptions,
  socketOptions,
} from "./sockopt/mod.ts";
import { NotSupportedError } from "./errors.ts";
import type { IoCore } from "./_io/core.ts";
import type { SocketRef } from "./_sys/fd.ts";
import { libcAvailable } from "./_sys/libc.ts";
import {
  checkBoolean,
  checkBooleanOption,
  checkInteger,
  checkOptions,
  describe,
  optionError,
} from "./_check.ts";

/**
 * Set in the options of a conn whose socket has its options already: one a
 * {@linkcode Listener} accepted (Linux: inherited from the listener), or
 * the TLS conn `startTls` made of a TCP conn.
 */
export const INHERITED: unique symbol = Symbol("netconn.inherited");

/** The keys of {@linkcode ConnOptions}, for a constructor that takes them alone. */
export const CONN_KEYS = ["noDelay", "keepAlive", "busyPoll"] as const;

/** The {@linkcode ConnOptions} within a larger options object (a dial's, a listen's). */
export function connOptionsOf(options: ConnOptions): ConnOptions {
  const { noDelay, keepAlive, busyPoll } = options;
  return {
    ...(noDelay === undefined ? {} : { noDelay }),
    ...(keepAlive === undefined ? {} : { keepAlive }),
    ...(busyPoll === undefined ? {} : { busyPoll }),
  };
}

/** ConnOptions as the package passes them between its files. */
export type InternalConnOptions = ConnOptions & { [INHERITED]?: true };

/**
 * Options a new conn gets, from {@linkcode dial}, {@linkcode listen} or
 * `new TcpConn(raw, options)` (or `TlsConn`): Go's defaults unless told otherwise.
 */
export interface ConnOptions {
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
  /**
   * Microseconds a read spins on an empty socket before it waits: a reply
   * from a peer on another core then arrives without an event-loop wake-up.
   * Off (0) by default; it holds the thread while it spins, so keep it for
   * latency-critical conns to peers in other processes (see
   * {@linkcode TcpConn.setBusyPoll}). TCP on Linux with `--allow-ffi` only.
   *
   * @default {0}
   */
  busyPoll?: number;
}

/** The longest busy-poll: one second. */
export const MAX_BUSY_POLL_US = 1_000_000;

/**
 * Checks a busy-poll time and that it can be done here.
 *
 * @throws {TypeError} If `us` is not a number.
 * @throws {RangeError} If `us` is not an integer from 0 to 1,000,000.
 * @throws {NotSupportedError} For a time above 0 off Linux or without `--allow-ffi`.
 */
export function checkBusyPoll(us: unknown, where: string): asserts us is number {
  checkInteger(us, where, 0, MAX_BUSY_POLL_US);
  if (us > 0 && !(Deno.build.os === "linux" && libcAvailable())) {
    throw new NotSupportedError("busyPoll needs kernel-first I/O: Linux with --allow-ffi", {
      op: "set",
    });
  }
}

/**
 * Checks {@linkcode ConnOptions} field by field, before any socket exists.
 *
 * @throws {TypeError} For a field of the wrong type.
 * @throws {RangeError} For a NaN or infinite keepalive period.
 * @throws {NotSupportedError} For a keepalive period without `--allow-ffi`.
 */
export function checkConnOptions(
  options: ConnOptions | undefined,
  where: string,
  known?: readonly string[],
): ConnOptions {
  const checked = checkOptions(options, where, known);
  const { noDelay, keepAlive, busyPoll } = checked;
  checkBooleanOption(noDelay, where, "noDelay");
  if (busyPoll !== undefined) checkBusyPoll(busyPoll, `${where} option "busyPoll"`);
  if (keepAlive !== undefined && typeof keepAlive !== "boolean") {
    if (typeof keepAlive !== "number") {
      throw optionError(where, "keepAlive", "a boolean or milliseconds", keepAlive);
    }
    if (!Number.isFinite(keepAlive)) {
      throw new RangeError(
        `${where} option "keepAlive" must be finite: received ${describe(keepAlive)}`,
      );
    }
    if (keepAlive > 0 && !libcAvailable()) {
      throw new NotSupportedError("keepAlive period needs --allow-ffi (Linux or macOS)", {
        op: where === "listen" ? "listen" : "dial",
      });
    }
  }
  return checked;
}

/**
 * Nagle and keepalive on a new TCP or TLS conn, as Go sets them. A socket
 * the peer already reset may refuse them; its first read or write says how.
 */
export function applyConnOptions(io: IoCore, options: InternalConnOptions): void {
  if (options.busyPoll) {
    if (io.network !== "tcp") throw io.notSupported("set", "busyPoll needs a TCP conn");
    const kernel = io.kernel();
    if (kernel !== null) kernel.busyPoll = options.busyPoll;
  }
  if (options[INHERITED]) return;
  const { noDelay = true, keepAlive = true } = options;
  const off = keepAlive === false || (typeof keepAlive === "number" && keepAlive < 0);
  const ffi = libcAvailable();
  try {
    if (!ffi) {
      // Deno's own setters: TCP has them; a TLS conn gets the OS's defaults.
      if (io.network !== "tcp") return;
      const raw = io.raw as Deno.TcpConn;
      raw.setNoDelay(noDelay);
      raw.setKeepAlive(!off);
      return;
    }
    // One lookup of the socket (the kernel-first one's fd where there is
    // one), then libc's setsockopt for all of them: no runtime op.
    const socket = tcpSocket(io, "keepAlive");
    setNoDelay(socket, noDelay);
    if (off) setKeepAlive(socket, false);
    else {
      const period = keepAlive === true ? 0 : keepAlive as number; // 0: Go's 15 s
      setKeepAliveConfig(socket, { enable: true, idle: period, interval: period });
    }
  } catch {
    // The socket is already dead; the next operation says how.
  }
}

/**
 * The TCP socket an option goes to: the kernel-first socket's fd where the
 * conn has one (no lookup), else its addresses.
 *
 * @throws {ClosedError} If the conn is closed.
 */
export function tcpSocket(io: IoCore, method: string): SocketRef {
  io.checkOpen();
  if (io.sock === null) throw io.notSupported("set", `${method} is a TCP option`);
  return io.kernel()?.fd ?? io.sock;
}

/** `setNoDelay` on a TCP or TLS conn: Deno's own setter for TCP, libc for TLS. */
export function setConnNoDelay(io: IoCore, on: boolean, where: string): void {
  checkBoolean(on, where);
  const socket = tcpSocket(io, "setNoDelay");
  if (io.network === "tcp") (io.raw as Deno.TcpConn).setNoDelay(on);
  else setNoDelay(socket, on);
}

/** `setKeepAlive` on a TCP or TLS conn: Deno's own setter for TCP, libc for TLS. */
export function setConnKeepAlive(io: IoCore, on: boolean, where: string): void {
  checkBoolean(on, where);
  const socket = tcpSocket(io, "setKeepAlive");
  if (io.network === "tcp") (io.raw as Deno.TcpConn).setKeepAlive(on);
  else setKeepAlive(socket, on);
}

/** `setBusyPoll` on a TCP conn. */
export function setConnBusyPoll(io: IoCore, us: number): void {
  checkBusyPoll(us, "TcpConn.setBusyPoll");
  io.checkOpen();
  const kernel = io.kernel();
  if (kernel === null) throw io.notSupported("set", "busyPoll needs kernel-first I/O");
  kernel.busyPoll = us;
}

/** `setKeepAlivePeriod` on a TCP or TLS conn. */
export function setConnKeepAlivePeriod(io: IoCore, ms: number): void {
  setKeepAlivePeriod(tcpSocket(io, "setKeepAlivePeriod"), ms);
}

/** `setKeepAliveConfig` on a TCP or TLS conn. */
export function setConnKeepAliveConfig(io: IoCore, config: KeepAliveConfig): void {
  setKeepAliveConfig(tcpSocket(io, "setKeepAliveConfig"), config);
}

/** `setLinger` on a TCP or TLS conn; 0 makes close reset the conn. */
export function setConnLinger(io: IoCore, seconds: number): void {
  setLinger(tcpSocket(io, "setLinger"), seconds);
  io.resetOnClose = seconds === 0;
}

/** `setReadBuffer` on a TCP or TLS conn. */
export function setConnReadBuffer(io: IoCore, bytes: number): void {
  setReadBuffer(tcpSocket(io, "setReadBuffer"), bytes);
}

/** `setWriteBuffer` on a TCP or TLS conn. */
export function setConnWriteBuffer(io: IoCore, bytes: number): void {
  setWriteBuffer(tcpSocket(io, "setWriteBuffer"), bytes);
}

/** `socketOptions` of a TCP or TLS conn. */
export function connSocketOptions(io: IoCore): SocketOptions {
  return socketOptions(tcpSocket(io, "socketOptions"));
}
