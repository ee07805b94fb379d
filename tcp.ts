/**
 * TcpConn: a {@linkcode Conn} over TCP, from {@linkcode dial} or a TCP
 * {@linkcode Listener}: the contract, plus the TCP options Go has and
 * STARTTLS.
 *
 * @module
 */

import { Conn, coreOf } from "./conn.ts";
import { type ServerStartTlsOptions, startTls, type StartTlsOptions, type TlsConn } from "./tls.ts";
import {
  applyConnOptions,
  checkConnOptions,
  type ConnOptions,
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
    const checked = checkConnOptions(options, "new TcpConn");
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
   * Upgrades this conn to TLS mid-conversation (STARTTLS, Postgres's
   * SSLRequest): as its client, Go's `tls.Client(conn, config)` followed by
   * `Handshake`, or, with `isServer: true` and a certificate to serve, as
   * its server, Go's `tls.Server(conn, config)` (through `node:tls`, with
   * `clientAuth` as on {@linkcode listenTls}). It consumes this conn: from
   * the call on, every use of it fails with {@linkcode ClosedError}, also
   * when the handshake fails (the socket is closed then). The new conn
   * keeps the deadlines in effect, and the handshake is bounded by them and
   * by `signal`.
   *
   * It refuses, with a NetError of kind `"busy"` and the conn left usable
   * and nothing lost, while bytes are read but not yet returned, or a read
   * or write is pending (a read a deadline left running counts): those
   * bytes would be lost to the TLS stream.
   *
   * @param options The client's: name to verify, trusted CAs, ALPN
   *   protocols, signal. The server's: `isServer: true`, `cert`, `key`,
   *   `clientAuth`, `clientCas`, ALPN protocols, signal.
   * @returns The TLS conn, handshake done.
   * @throws {NetError} Kind `"busy"` (see above), or `"tls"` when the
   *   handshake failed (a client certificate refused included).
   * @throws {TimeoutError} A deadline passed during the handshake.
   * @throws {ClosedError} If the conn is closed.
   * @throws {TypeError} If an option has the wrong type, a name or a PEM
   *   text is malformed; nothing changes and nothing is sent.
   * @throws {RangeError} For ALPN names out of bounds; nothing changes.
   *
   * @example The server side of STARTTLS
   * ```ts
   * import { dial, listen } from "@netconn/netconn";
   * import assert from "node:assert/strict";
   *
   * const dir = new URL("./tests/certs/", import.meta.url);
   * const read = (name: string) => Deno.readTextFileSync(new URL(name, dir));
   * await using ln = listen("127.0.0.1:0");
   * const plainClient = await dial(ln.addr);
   * const plainServer = await ln.accept();
   * const [client, server] = await Promise.all([
   *   plainClient.startTls({ hostname: "localhost", caCerts: [read("ca.pem")] }),
   *   plainServer.startTls({ isServer: true, cert: read("server.pem"), key: read("server.key") }),
   * ]);
   * await using _c = client;
   * await using _s = server;
   * await client.write(new TextEncoder().encode("hi"));
   * assert.equal(await server.read(new Uint8Array(2)), 2);
   * assert.equal(server.tlsState().version, "TLSv1.3");
   * ```
   */
  startTls(options?: StartTlsOptions | ServerStartTlsOptions): Promise<TlsConn> {
    return startTls(coreOf(this), options);
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
