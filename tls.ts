/**
 * TlsConn: a {@linkcode Conn} over TLS over TCP, from {@linkcode dialTls},
 * a {@linkcode listenTls} listener or {@linkcode TcpConn.startTls}: the
 * handshake, the client side of STARTTLS, and the TCP options of the socket
 * under it.
 *
 * @module
 */

import { checkIoOptions, coreOf, type IoOptions } from "./conn.ts";
import { TcpSocketConn } from "./tcp_socket.ts";
import type { IoCore } from "./_io/core.ts";
import { NetError, NotSupportedError } from "./errors.ts";
import {
  applyConnOptions,
  checkConnOptions,
  CONN_KEYS,
  type ConnOptions,
  INHERITED,
  type InternalConnOptions,
} from "./tcp_options.ts";
import { shutdownSocket } from "./_sys/kernel.ts";
import { checkOptions, checkSignal, optionError } from "./_check.ts";
import { waitFor } from "./_io/wait.ts";
import { withTimeout } from "./_io/op_timeout.ts";

/**
 * TlsConn is a {@linkcode Conn} over TLS over TCP, with the whole contract
 * (deadlines, whole writes, true counts, close, streams), Go's
 * `tls.Conn`: {@linkcode TlsConn.handshake} waits for the handshake and
 * tells the ALPN protocol; `closeWrite` sends `close_notify`, then FIN. The
 * TCP options (`setNoDelay`, keepalive, linger, buffers) act on the socket
 * under it, as on a {@linkcode TcpConn}; those Deno has no setter for need
 * `--allow-ffi`.
 *
 * @example A TLS conn from a TLS listener
 * ```ts
 * import { dialTls, listenTls, TlsConn } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const cert = await Deno.readTextFile("tests/certs/server.pem");
 * const key = await Deno.readTextFile("tests/certs/server.key");
 * const ca = await Deno.readTextFile("tests/certs/ca.pem");
 * await using ln = listenTls("127.0.0.1:0", { cert, key });
 * const accepting = ln.accept();
 * await using client = await dialTls(ln.addr, { hostname: "localhost", caCerts: [ca] });
 * await using server = await accepting;
 * assert.ok(client instanceof TlsConn);
 * await client.write(new TextEncoder().encode("hi"));
 * assert.equal(await server.read(new Uint8Array(8)), 2);
 * ```
 */
export class TlsConn extends TcpSocketConn {
  #handshaken = false; // handshake() resolved

  /**
   * Wraps a `Deno.TlsConn` with Go's defaults (Nagle off, keepalive on; a
   * TLS conn has no Deno setters, so it gets them only with `--allow-ffi`).
   *
   * @param conn The connection, from `Deno.connectTls`, `Deno.startTls` or a TLS listener.
   * @param options Nagle and keepalive.
   * @throws {TypeError} If `conn` is not a Deno stream conn or an option has the wrong type.
   * @throws {RangeError} If `keepAlive` is NaN or infinite.
   * @throws {NotSupportedError} For a keepalive period without `--allow-ffi`.
   */
  constructor(conn: Deno.TlsConn, options?: ConnOptions) {
    const checked = checkConnOptions(options, "new TlsConn", CONN_KEYS);
    if (checked.busyPoll) refuseBusyPoll("new TlsConn");
    super(conn);
    applyConnOptions(coreOf(this), checked);
  }

  /**
   * Completes the TLS handshake, if it has not completed yet, and returns
   * what it negotiated, as Go's `tls.Conn.Handshake` with
   * `ConnectionState().NegotiatedProtocol`. Deno runs the handshake by
   * itself as soon as the conn exists (the first read or write waits for
   * it); this waits for it, bounded by the conn's read and write deadlines:
   * a peer that never answers ends in a {@linkcode TimeoutError}, and the
   * conn stays as it was.
   *
   * @param options A signal that ends the wait early, as Go's `HandshakeContext`.
   * @returns The ALPN protocol the peer chose, or `null`.
   * @throws {NetError} Kind `"tls"` (op `"handshake"`) when the handshake
   *   failed: an unknown authority, a wrong host name, an expired
   *   certificate, a peer that does not speak TLS or sent an alert; `cause`
   *   is the runtime's error. A reset is kind `"reset"`.
   * @throws {TimeoutError} A deadline or `timeout` passed first.
   * @throws {ClosedError} If the conn is closed.
   */
  handshake(options?: IoOptions): Promise<{ alpnProtocol: string | null }> {
    let checked: IoOptions;
    try {
      checked = checkIoOptions(options, "TlsConn.handshake");
    } catch (e) {
      return Promise.reject(e);
    }
    return withTimeout(checked.signal, checked.timeout, (signal) => this.#handshake(signal));
  }

  async #handshake(signal: AbortSignal | undefined): Promise<{ alpnProtocol: string | null }> {
    const io = coreOf(this);
    io.checkOpen("handshake");
    try {
      const op = (io.raw as Deno.TlsConn).handshake();
      const state = await waitFor(waitFor(op, io.readDeadline, signal), io.writeDeadline);
      this.#handshaken = true;
      return { alpnProtocol: state.alpnProtocol ?? null };
    } catch (e) {
      throw io.error("handshake", e);
    }
  }

  /**
   * Closes the conn, as {@linkcode Conn.close}. Closed before its handshake
   * finished, with nothing sent or received, the TCP socket is shut too:
   * Deno's close leaves it open while its handshake runs.
   */
  override close(): void {
    const io = coreOf(this);
    const quiet = io.reader.bytes === 0 && (io.writerIfAny?.bytes ?? 0) === 0;
    if (!io.closed && !this.#handshaken && quiet) shutdownSocket(io.sock!);
    super.close();
  }
}

/** busyPoll is for TCP conns: kernel-first I/O cannot read TLS records. */
export function refuseBusyPoll(where: string): never {
  throw new NotSupportedError(`${where}: busyPoll needs a TCP conn (TLS reads go through Deno)`, {
    op: "set",
  });
}

/** The keys {@linkcode TcpConn.startTls} takes (`cert` and `key` are refused: see there). */
const START_TLS_KEYS = ["hostname", "caCerts", "alpnProtocols", "signal", "cert", "key"] as const;

/**
 * The client side of STARTTLS on a TCP conn's core: {@linkcode TcpConn.startTls}.
 * Consumes the core; the TLS conn keeps its deadlines.
 */
export async function startTls(io: IoCore, options: StartTlsOptions | undefined): Promise<TlsConn> {
  const checked = checkTlsOptions(options, "TcpConn.startTls", START_TLS_KEYS);
  const { signal } = checked;
  io.checkOpen("handshake");
  if ("cert" in checked || "key" in checked) {
    // A certificate to serve: Go's tls.Server(conn, config). Deno has none.
    throw io.notSupported(
      "handshake",
      "startTls is the client side: Deno has no server-side TLS upgrade",
    );
  }
  const busy = io.reader.busy ??
    ((io.writerIfAny?.depth ?? 0) > 0 ? "a write is pending" : undefined);
  if (busy !== undefined) {
    throw new NetError(`startTls: ${busy}; the conn is left as it was`, {
      ...io.site("handshake"),
      kind: "busy",
    });
  }
  const readAt = io.readDeadline.time;
  const writeAt = io.writeDeadline.time;
  const host = (io.remoteAddr as Deno.NetAddr).hostname;
  const raw = io.raw as Deno.TcpConn;
  io.consume();
  let tls: TlsConn;
  try {
    const tlsRaw = await Deno.startTls(raw, {
      hostname: checked.hostname ?? host,
      ...(checked.caCerts === undefined ? {} : { caCerts: checked.caCerts }),
      ...(checked.alpnProtocols === undefined ? {} : { alpnProtocols: checked.alpnProtocols }),
    });
    tls = new TlsConn(tlsRaw, { [INHERITED]: true } as InternalConnOptions);
  } catch (e) {
    throw io.error("handshake", e);
  }
  try {
    if (readAt !== 0) tls.setReadDeadline(readAt);
    if (writeAt !== 0) tls.setWriteDeadline(writeAt);
    await tls.handshake(signal === undefined ? {} : { signal });
  } catch (e) {
    tls.close();
    throw e;
  }
  return tls;
}

/**
 * Checks TLS client options field by field.
 *
 * @throws {TypeError} For a field of the wrong type.
 */
export function checkTlsOptions<T extends StartTlsOptions>(
  options: T | undefined,
  where: string,
  known?: readonly string[],
): T {
  const checked = checkOptions(options, where, known);
  const { hostname, caCerts, alpnProtocols, signal } = checked;
  if (hostname !== undefined && (typeof hostname !== "string" || hostname === "")) {
    throw optionError(where, "hostname", "a non-empty string", hostname);
  }
  for (const [name, list] of [["caCerts", caCerts], ["alpnProtocols", alpnProtocols]] as const) {
    if (list !== undefined && (!Array.isArray(list) || !list.every((x) => typeof x === "string"))) {
      throw optionError(where, name, "an array of strings", list);
    }
  }
  checkSignal(signal, where);
  return checked;
}

/** Options for {@linkcode TcpConn.startTls}: how the client verifies the server. */
export interface StartTlsOptions {
  /** The name to verify the server's certificate for. @default {the remote address's host} */
  hostname?: string;
  /** PEM certificates of the authorities to trust, instead of the system's. */
  caCerts?: string[];
  /** ALPN protocols to offer, in order of preference. */
  alpnProtocols?: string[];
  /** Ends the handshake early: the upgraded conn is closed. */
  signal?: AbortSignal;
}
