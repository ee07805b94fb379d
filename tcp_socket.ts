/**
 * TcpSocketConn: what a conn over a TCP socket has beside the contract, plain
 * ({@linkcode TcpConn}) or under TLS ({@linkcode TlsConn}): IP addresses and
 * the TCP options Go has.
 *
 * @module
 */

import { Conn, coreOf } from "./conn.ts";
import {
  connSocketOptions,
  setConnKeepAlive,
  setConnKeepAliveConfig,
  setConnKeepAlivePeriod,
  setConnLinger,
  setConnNoDelay,
  setConnReadBuffer,
  setConnWriteBuffer,
} from "./tcp_options.ts";
import type { KeepAliveConfig, SocketOptions } from "./sockopt/mod.ts";

/**
 * TcpSocketConn is a {@linkcode Conn} over a TCP socket: the base of
 * {@linkcode TcpConn} and {@linkcode TlsConn}, whose TCP options act on the
 * socket under TLS. Options Deno has no setter for need `--allow-ffi`.
 *
 * @example The TCP options of a dialed conn
 * ```ts
 * import { dial, listen, TcpSocketConn } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * await using conn = await dial(ln.addr);
 * await using _peer = await ln.accept();
 * assert.ok(conn instanceof TcpSocketConn);
 * conn.setKeepAlive(true);
 * assert.equal(conn.remoteAddr.port, ln.addr.port);
 * ```
 */
export class TcpSocketConn extends Conn {
  /** The local address; it prints as Go prints it (`127.0.0.1:8001`, `[::1]:80`). */
  override get localAddr(): Deno.NetAddr {
    return super.localAddr as Deno.NetAddr;
  }

  /** The remote address, as {@linkcode TcpSocketConn.localAddr}. */
  override get remoteAddr(): Deno.NetAddr {
    return super.remoteAddr as Deno.NetAddr;
  }

  /**
   * Turns Nagle's algorithm off (`true`, Go's default and netconn's) or on.
   *
   * @param on True to send small writes at once.
   * @throws {TypeError} If `on` is not a boolean.
   * @throws {ClosedError} If the conn is closed.
   */
  setNoDelay(on: boolean): void {
    setConnNoDelay(coreOf(this), on, `${this.constructor.name}.setNoDelay`);
  }

  /**
   * Turns TCP keepalive on or off (on by default, as in Go).
   *
   * @param on True to send keepalive probes on an idle conn.
   * @throws {TypeError} If `on` is not a boolean.
   * @throws {ClosedError} If the conn is closed.
   */
  setKeepAlive(on: boolean): void {
    setConnKeepAlive(coreOf(this), on, `${this.constructor.name}.setKeepAlive`);
  }

  /**
   * Sets the keepalive idle time and probe interval. Both are set, as Go's
   * `SetKeepAlivePeriod` did up to Go 1.22 (Go 1.23 sets only the idle
   * time); 0 means Go's default, 15 s, as in Go 1.23. The kernel counts
   * whole seconds: the period is rounded up. It does not turn keepalive on.
   * Needs `--allow-ffi`.
   *
   * @param ms The period in milliseconds, >= 0 (Linux: up to 32767 s).
   * @throws {TypeError} If `ms` is not a number.
   * @throws {RangeError} If `ms` is negative, NaN or beyond the OS's limit.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  setKeepAlivePeriod(ms: number): void {
    setConnKeepAlivePeriod(coreOf(this), ms);
  }

  /**
   * Sets keepalive as Go 1.23's `SetKeepAliveConfig`: `enable` turns it on
   * or off; `idle`, `interval` (milliseconds) and `count` that are zero or
   * left out take Go's defaults (15 s, 15 s, 9), negative ones leave the
   * current value (after `dial` or `accept`, Go's defaults, which netconn
   * set). As in Go, `enable: false` still sets the other fields. Needs
   * `--allow-ffi`.
   *
   * @param config What to set.
   * @throws {RangeError} For values out of range.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   *
   * @example Probe after 30 idle seconds, then read it back
   * ```ts
   * import { dial, listen } from "@netconn/netconn";
   * import assert from "node:assert/strict";
   *
   * await using ln = listen("127.0.0.1:0");
   * await using conn = await dial(ln.addr);
   * await using _peer = await ln.accept();
   * conn.setKeepAliveConfig({ enable: true, idle: 30_000 });
   * const options = conn.socketOptions();
   * assert.equal(options.keepAlive, true);
   * assert.equal(options.keepAliveIdle, 30_000);
   * assert.equal(options.keepAliveCount, 9);
   * ```
   */
  setKeepAliveConfig(config: KeepAliveConfig): void {
    setConnKeepAliveConfig(coreOf(this), config);
  }

  /**
   * Sets what close does with data not yet sent, as Go's `SetLinger`:
   *
   * - `< 0` (the default): close returns at once and the kernel sends the
   *   rest in the background.
   * - `0`: the rest is discarded and the connection reset at once: the
   *   peer's read fails with kind `"reset"`, as in Go (on Linux, where the
   *   conn's kernel-first socket aborts the connection; elsewhere Deno sends
   *   FIN before it closes, so the peer reads EOF if everything had arrived).
   * - `> 0`: on Linux, close waits up to that many seconds for the data to
   *   go out, and that wait blocks Deno's runtime thread (every timer and
   *   callback of the process); then the kernel goes on sending. Prefer the
   *   default.
   *
   * Needs `--allow-ffi`.
   *
   * @param seconds The linger time, an integer up to 2147483647.
   * @throws {TypeError} If `seconds` is not a number.
   * @throws {RangeError} If `seconds` is NaN, not an integer or too large.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  setLinger(seconds: number): void {
    setConnLinger(coreOf(this), seconds);
  }

  /**
   * Sets the size of the OS receive buffer (SO_RCVBUF), as Go's
   * `SetReadBuffer`. Linux doubles it, applies a floor, caps it at
   * `net.core.rmem_max` and stops auto-tuning it. The window offered in the
   * handshake stays: to shrink an accepted conn's window, set the buffer on
   * the listener before the dial (`setReadBuffer(ln, n)` from
   * `@netconn/netconn/sockopt`). Needs `--allow-ffi`.
   *
   * @param bytes The size, an integer from 0 to 2147483647.
   * @throws {TypeError} If `bytes` is not a number.
   * @throws {RangeError} If `bytes` is negative, NaN or not an integer.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  setReadBuffer(bytes: number): void {
    setConnReadBuffer(coreOf(this), bytes);
  }

  /**
   * Sets the size of the OS send buffer (SO_SNDBUF), as Go's
   * `SetWriteBuffer`. Linux doubles it, applies a floor, caps it at
   * `net.core.wmem_max` and stops auto-tuning it. Needs `--allow-ffi`.
   *
   * @param bytes The size, an integer from 0 to 2147483647.
   * @throws {TypeError} If `bytes` is not a number.
   * @throws {RangeError} If `bytes` is negative, NaN or not an integer.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  setWriteBuffer(bytes: number): void {
    setConnWriteBuffer(coreOf(this), bytes);
  }

  /**
   * Reads back the options in effect, as the kernel reports them (Linux
   * doubles buffer sizes; durations are whole seconds). Needs `--allow-ffi`.
   *
   * @returns NoDelay, keepalive settings, linger and buffer sizes.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  socketOptions(): SocketOptions {
    return connSocketOptions(coreOf(this));
  }
}
