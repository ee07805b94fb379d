/**
 * TcpConn: a {@linkcode Conn} over TCP, from {@linkcode dial} or a TCP
 * {@linkcode Listener}: the contract, plus the TCP options Go has and
 * STARTTLS.
 *
 * @module
 */

import { coreOf } from "./conn.ts";
import { TcpSocketConn } from "./tcp_socket.ts";
import { type ServerStartTlsOptions, startTls, type StartTlsOptions, type TlsConn } from "./tls.ts";
import {
  applyConnOptions,
  checkConnOptions,
  CONN_KEYS,
  type ConnOptions,
  setConnBusyPoll,
} from "./tcp_options.ts";

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
export class TcpConn extends TcpSocketConn {
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
}
