/**
 * netconn: Go's `net.Conn` contract, native to Deno.
 *
 * - {@linkcode dial} and {@linkcode listen} take Go's addresses
 *   (`"127.0.0.1:8001"`, `"[::1]:8001"`, `":8001"`) and give conns Go's
 *   defaults: Nagle off, keepalive on.
 * - {@linkcode Conn.write} resolves once every byte is accepted, and
 *   concurrent writes never interleave on the wire.
 * - Deadlines ({@linkcode Conn.setDeadline} and friends) are absolute,
 *   movable while operations wait, and never lose a byte.
 * - Failures are {@linkcode NetError}s with true byte counts;
 *   {@linkcode TimeoutError} and {@linkcode ClosedError} are Go's
 *   `i/o timeout` and `use of closed network connection`.
 *
 * @example Request and response with a deadline
 * ```ts
 * import { dial, listen, TimeoutError } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * await using client = await dial(ln.addr);
 * await using server = await ln.accept();
 *
 * await client.write(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * assert.equal(await server.read(buf), 4);
 *
 * // Nothing more comes: a read deadline ends the wait, and the conn stays usable.
 * server.setReadDeadline(Date.now() + 50);
 * await assert.rejects(server.read(buf), TimeoutError);
 * server.setReadDeadline(null);
 * await client.write(new TextEncoder().encode("pong"));
 * assert.equal(await server.read(buf), 4);
 * ```
 *
 * @module
 */

export { type Address, type PipeAddr, type UnixAddress } from "./address.ts";
export { Conn, type ConnStats, type IoOptions, type Network, type RawStream } from "./conn.ts";
export { TcpConn } from "./tcp.ts";
export { TcpSocketConn } from "./tcp_socket.ts";
export { type ConnOptions } from "./tcp_options.ts";
export {
  type CertifiedKey,
  type ClientAuth,
  type ServerStartTlsOptions,
  type StartTlsOptions,
  TlsConn,
  type TlsConnectionState,
  type TlsState,
} from "./tls.ts";
export { UnixConn } from "./unix.ts";
export type { DeadlineTime } from "./deadline.ts";
export { dial, type DialOptions, dialTls, type DialTlsOptions } from "./dial.ts";
export {
  ClosedError,
  NetError,
  type NetErrorKind,
  type NetErrorOptions,
  type NetOp,
  NotSupportedError,
  TimeoutError,
} from "./errors.ts";
export {
  type AcceptOptions,
  listen,
  Listener,
  type ListenerCertificates,
  type ListenOptions,
  listenTls,
  type ListenTlsOptions,
} from "./listener.ts";
export { type KeepAliveConfig, type SocketOptions } from "./sockopt/mod.ts";
export type { Reader, Writer } from "./bufio/io.ts";
export { pipe, PipeConn } from "./pipe.ts";
export {
  type Handler,
  serve,
  type ServeOptions,
  Server,
  type ServerStats,
  type ShutdownOptions,
  type ShutdownResult,
} from "./server.ts";
