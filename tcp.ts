/**
 * TcpConn: a {@linkcode Conn} over TCP, from {@linkcode dial} or a TCP
 * {@linkcode Listener}: the contract, plus the TCP options Go has and
 * STARTTLS.
 *
 * @module
 */

import { Conn, coreOf } from "./conn.ts";
import { startTls, type StartTlsOptions, type TlsConn } from "./tls.ts";
import {
  applyConnOptions,
  checkConnOptions,
  CONN_KEYS,
  type ConnOptions,
  connSocketOptions,
  setConnBusyPoll,
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
 * TcpConn is a {@linkcode Conn} over TCP, Go's `net.TCPConn`: the whole
 * contract (see {@linkcode Conn}), with Go's defaults set on every new conn
 * (Nagle off, keepalive on every 15 s), the TCP options, and
 * {@linkcode TcpConn.startTls}. Options Deno has no setter for need
 * `--allow-ffi`.
 *
 * @example Options on a dialed conn
 * ```ts
 * import { dial, listen, TcpConn } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * await using conn = await dial(ln.addr);
 * await using _peer = await ln.accept();
 * assert.ok(conn instanceof TcpConn);
 * conn.setNoDelay(false); // Nagle back on
 * assert.equal(conn.remoteAddr.port, ln.addr.port);
 * ```
 */
export class TcpConn extends Conn {
  /**
   * Wraps a `Deno.TcpConn` with Go's defaults, as {@linkcode dial} gives
   * them: Nagle off, keepalive on (15 s with `--allow-ffi`, the OS's timing
   * without).
   *
   * @param conn The connection, from `Deno.connect` or a listener's `accept`.
   * @param options Nagle and keepalive.
   * @throws {TypeError} If `conn` is not a Deno stream conn or an option has the wrong type.
   * @throws {RangeError} If `keepAlive` is NaN or infinite.
   * @throws {NotSupportedError} For a keepalive period without `--allow-ffi`.
   */
  constructor(conn: Deno.TcpConn, options?: ConnOptions) {
    const checked = checkConnOptions(options, "new TcpConn", CONN_KEYS);
    super(conn);
    applyConnOptions(coreOf(this), checked);
  }

  /** The local address; it prints as Go prints it (`127.0.0.1:8001`, `[::1]:80`). */
  override get localAddr(): Deno.NetAddr {
    return super.localAddr as Deno.NetAddr;
  }

  /** The remote address, as {@linkcode TcpConn.localAddr}. */
  override get remoteAddr(): Deno.NetAddr {
    return super.remoteAddr as Deno.NetAddr;
  }

  /**
   * Upgrades this conn to TLS as its client, mid-conversation (STARTTLS,
   * Postgres's SSLRequest), as Go's `tls.Client(conn, config)` followed by
   * `Handshake`. It consumes this conn: from the call on, every use of it
   * fails with {@linkcode ClosedError}, also when the handshake fails
   * (Deno destroys the TCP conn then, so the socket is closed). The new
   * conn keeps the deadlines in effect, and the handshake is bounded by
   * them and by `signal`.
   *
   * It refuses, with a NetError of kind `"busy"` and the conn left usable
   * and nothing lost, while bytes are read but not yet returned, or a read
   * or write is pending (a read a deadline left running counts): Deno would
   * destroy the conn then.
   *
   * @param options The name to verify, trusted CAs, ALPN protocols, a signal.
   * @returns The TLS conn, handshake done.
   * @throws {NetError} Kind `"busy"` (see above), or `"tls"` when the handshake failed.
   * @throws {TimeoutError} A deadline passed during the handshake.
   * @throws {NotSupportedError} Given a `cert` or `key` to serve: Deno has
   *   no server-side upgrade (Go's `tls.Server`).
   * @throws {ClosedError} If the conn is closed.
   * @throws {TypeError} If an option has the wrong type; nothing changes.
   */
  startTls(options?: StartTlsOptions): Promise<TlsConn> {
    return startTls(coreOf(this), options);
  }

  /**
   * Sets busy-poll: how many microseconds a read spins on an empty socket
   * before it waits on the runtime. A reply from a peer on another core then
   * arrives without an event-loop wake-up, which is most of a round trip's
   * cost in Deno: for request and response with a peer in another process,
   * round trips run about twice as fast or more. The price is CPU: a spinning
   * read holds the thread, so timers and other conns wait up to that long,
   * and a core runs at 100% while replies come quickly. It adapts: after 3
   * spins in a row that find nothing it pauses (16 … 1024 reads), and comes
   * back when data arrives while it spins. Off (0) by default; Go and Node
   * have no such option (Linux's `SO_BUSY_POLL` is for NIC queues and needs
   * privileges). Linux with `--allow-ffi` only.
   *
   * @param us Microseconds, an integer from 0 (off) to 1,000,000; 20 to 100 suit loopback.
   * @throws {TypeError} If `us` is not a number.
   * @throws {RangeError} If `us` is not an integer in range.
   * @throws {NotSupportedError} Off Linux or without `--allow-ffi`.
   * @throws {ClosedError} If the conn is closed.
   *
   * @example Spin up to 50 µs for each reply
   * ```ts
   * import { dial, listen } from "@netconn/netconn";
   * import { sockoptSupported } from "@netconn/netconn/sockopt";
   * import assert from "node:assert/strict";
   *
   * await using ln = listen("127.0.0.1:0");
   * await using conn = await dial(ln.addr);
   * await using peer = await ln.accept();
   * if (Deno.build.os === "linux" && sockoptSupported()) conn.setBusyPoll(50);
   * await peer.write(new Uint8Array([1]));
   * assert.equal(await conn.read(new Uint8Array(1)), 1);
   * ```
   */
  setBusyPoll(us: number): void {
    setConnBusyPoll(coreOf(this), us);
  }

  /**
   * Turns Nagle's algorithm off (`true`, Go's default and netconn's) or on.
   *
   * @param on True to send small writes at once.
   * @throws {TypeError} If `on` is not a boolean.
   * @throws {ClosedError} If the conn is closed.
   */
  setNoDelay(on: boolean): void {
    setConnNoDelay(coreOf(this), on, "TcpConn.setNoDelay");
  }

  /**
   * Turns TCP keepalive on or off (on by default, as in Go).
   *
   * @param on True to send keepalive probes on an idle conn.
   * @throws {TypeError} If `on` is not a boolean.
   * @throws {ClosedError} If the conn is closed.
   */
  setKeepAlive(on: boolean): void {
    setConnKeepAlive(coreOf(this), on, "TcpConn.setKeepAlive");
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
