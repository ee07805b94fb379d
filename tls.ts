/**
 * TlsConn: a {@linkcode Conn} over TLS over TCP, from {@linkcode dialTls},
 * a {@linkcode listenTls} listener or {@linkcode TcpConn.startTls}: the
 * handshake, the client side of STARTTLS, and the TCP options of the socket
 * under it.
 *
 * @module
 */

import { coreOf, type IoOptions, withIoOptions } from "./conn.ts";
import { TcpSocketConn } from "./tcp_socket.ts";
import type { IoCore } from "./_io/core.ts";
import { NetError, NotSupportedError, toNetError } from "./errors.ts";
import {
  applyConnOptions,
  checkConnOptions,
  CONN_KEYS,
  type ConnOptions,
  INHERITED,
  type InternalConnOptions,
} from "./tcp_options.ts";
import { shutdownSocket } from "./_sys/kernel.ts";
import { checkOptions, checkSignal, describe, optionError } from "./_check.ts";
import { waitFor } from "./_io/wait.ts";
import { DenoTlsStream, type TlsState, type TlsStream } from "./_tls/stream.ts";
import { ServerTls } from "./_tls/node_server.ts";
import { clientTls } from "./_tls/node_client.ts";
import { NodeTlsStream } from "./_tls/node_stream.ts";
import {
  type CertifiedKey,
  checkAlpn,
  checkCaList,
  checkCertifiedKey,
  checkClientAuth,
  checkServerName,
  type ClientAuth,
  parseCerts,
} from "./_tls/options.ts";

export type { CertifiedKey, ClientAuth, TlsState };

/**
 * A TlsConn over a TLS stream of this package (_tls/): for dialTls,
 * startTls and listeners. The public constructor takes a `Deno.TlsConn`;
 * it adopts this package's streams as they are.
 */
export function tlsConnOver(stream: TlsStream, options: InternalConnOptions): TlsConn {
  return Reflect.construct(TlsConn, [stream, options]);
}

/** True for the TLS streams of this package. */
function isTlsStream(conn: unknown): conn is TlsStream {
  return conn instanceof DenoTlsStream || conn instanceof NodeTlsStream;
}

/**
 * What a TLS handshake negotiated, from {@linkcode TlsConn.tlsState}: Go's
 * `tls.ConnectionState`.
 */
export interface TlsConnectionState extends TlsState {
  /** True once the handshake completed; until then the rest is empty. */
  handshakeComplete: boolean;
}

/** A Deno TLS conn as a TLS stream, its type checked. */
export function denoStream(
  conn: Deno.TlsConn,
  side: { serverName: string | null; verified: boolean },
): TlsStream {
  if (
    typeof conn !== "object" || conn === null || typeof conn.handshake !== "function" ||
    typeof conn.read !== "function" || typeof conn.localAddr !== "object"
  ) {
    throw new TypeError(`TlsConn takes a Deno.TlsConn: received ${describe(conn)}`);
  }
  return new DenoTlsStream(conn, side);
}

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
  #stream: TlsStream; // the TLS stream under the conn: Deno's own, or node:tls (_tls/)
  #state: TlsState | null = null; // set once the handshake completed

  /**
   * Wraps a `Deno.TlsConn` with Go's defaults (Nagle off, keepalive on; a
   * TLS conn has no Deno setters, so it gets them only with `--allow-ffi`).
   * Wrapped this way, {@linkcode TlsConn.tlsState} knows only the ALPN
   * protocol: Deno tells nothing else.
   *
   * @param conn The connection, from `Deno.connectTls`, `Deno.startTls` or a TLS listener.
   * @param options Nagle and keepalive.
   * @throws {TypeError} If `conn` is not a Deno TLS conn or an option has the wrong type.
   * @throws {RangeError} If `keepAlive` is NaN or infinite.
   * @throws {NotSupportedError} For a keepalive period without `--allow-ffi`.
   */
  constructor(conn: Deno.TlsConn, options?: ConnOptions) {
    const checked = checkConnOptions(options, "new TlsConn", CONN_KEYS);
    if (checked.busyPoll) refuseBusyPoll("new TlsConn");
    const stream = isTlsStream(conn)
      ? conn
      : denoStream(conn, { serverName: null, verified: false });
    super(stream);
    this.#stream = stream;
    applyConnOptions(coreOf(this), checked);
  }

  /**
   * Completes the TLS handshake, if it has not completed yet, and returns
   * what it negotiated, as Go's `tls.Conn.Handshake` with
   * `ConnectionState().NegotiatedProtocol`. The handshake runs by itself as
   * soon as the conn exists (the first read or write waits for it); this
   * waits for it, bounded by the conn's read and write deadlines: a peer
   * that never answers ends in a {@linkcode TimeoutError}, and the conn
   * stays as it was. On a server that asks for client certificates, the
   * handshake is done once the client's certificate passed the listener's
   * `clientAuth` check.
   *
   * @param options A signal or a timeout (ms) that ends the wait early, as Go's `HandshakeContext`.
   * @returns The ALPN protocol the peer chose, or `null`.
   * @throws {NetError} Kind `"tls"` (op `"handshake"`) when the handshake
   *   failed: an unknown authority, a wrong host name, an expired
   *   certificate, a client certificate refused, a peer that does not speak
   *   TLS or sent an alert; `cause` is the runtime's error. A reset is kind
   *   `"reset"`.
   * @throws {TimeoutError} A deadline or `timeout` passed first.
   * @throws {ClosedError} If the conn is closed.
   */
  handshake(options?: IoOptions): Promise<{ alpnProtocol: string | null }> {
    return withIoOptions(options, "TlsConn.handshake", (signal) => this.#handshake(signal));
  }

  async #handshake(signal: AbortSignal | undefined): Promise<{ alpnProtocol: string | null }> {
    const io = coreOf(this);
    io.checkOpen("handshake");
    try {
      const op = this.#stream.handshake();
      this.#state = await waitFor(waitFor(op, io.readDeadline, signal), io.writeDeadline);
      return { alpnProtocol: this.#state.alpnProtocol };
    } catch (e) {
      throw io.error("handshake", e);
    }
  }

  /**
   * What the handshake negotiated, Go's `tls.Conn.ConnectionState`: the
   * version, cipher suite, ALPN protocol, server name, the peer's
   * certificates (PEM, leaf first) and whether they were verified.
   * `handshakeComplete` is false, and the rest empty, until
   * {@linkcode TlsConn.handshake} (or `dialTls`, `startTls`) has completed;
   * on the `node:tls` path, until the handshake has completed by itself.
   *
   * Which path the conn takes decides what is known: a conn of Deno's own
   * TLS (`dialTls`, a client `startTls`, a `listenTls` listener without
   * `clientAuth` or `sni`) tells only the ALPN protocol, the server name
   * its client verified and `verified` (true on a client: Deno always
   * verifies the server); `version` and `cipherSuite` are null and
   * `peerCertificates` empty there. A server conn over `node:tls` (a
   * listener with `clientAuth` or `sni`, `startTls({ isServer: true })`)
   * tells everything.
   *
   * @returns A fresh snapshot.
   *
   * @example The client's certificate, seen by the server
   * ```ts
   * import { dialTls, listenTls } from "@netconn/netconn";
   * import assert from "node:assert/strict";
   *
   * const dir = new URL("./tests/certs/", import.meta.url);
   * const read = (name: string) => Deno.readTextFileSync(new URL(name, dir));
   * await using ln = listenTls("127.0.0.1:0", {
   *   cert: read("server.pem"),
   *   key: read("server.key"),
   *   clientAuth: "require-and-verify",
   *   clientCas: read("ca.pem"),
   * });
   * const accepted = ln.accept();
   * await using client = await dialTls(`localhost:${ln.addr.port}`, {
   *   caCerts: [read("ca.pem")],
   *   cert: read("client.pem"),
   *   key: read("client.key"),
   * });
   * await using server = await accepted;
   * await server.handshake();
   * const state = server.tlsState();
   * assert.equal(state.handshakeComplete, true);
   * assert.equal(state.verified, true);
   * assert.equal(state.peerCertificates.length, 1);
   * assert.equal(state.serverName, "localhost");
   * assert.equal(client.tlsState().verified, true);
   * ```
   */
  tlsState(): TlsConnectionState {
    const state = this.#state ?? this.#stream.state ?? null;
    if (state === null) {
      return {
        handshakeComplete: false,
        version: null,
        cipherSuite: null,
        alpnProtocol: null,
        serverName: null,
        peerCertificates: [],
        verified: false,
      };
    }
    return { handshakeComplete: true, ...state, peerCertificates: [...state.peerCertificates] };
  }

  /**
   * Sends `close_notify`, then FIN, after the writes queued before it, as
   * {@linkcode Conn.closeWrite}. Called before the handshake completed, it
   * waits for the handshake first, bounded by the write deadline: a
   * deadline that passes fails it with a {@linkcode TimeoutError} and
   * frees the write turn for later writes. Later writes fail with a
   * `"broken-pipe"` NetError, as over TCP.
   *
   * @param options A signal or a timeout (ms) that bounds the wait.
   * @throws {ClosedError} If the conn is closed.
   * @throws {TimeoutError} If the write deadline or `timeout` passed first.
   * @throws {NetError} Kind `"tls"` if the handshake failed.
   */
  override closeWrite(options?: IoOptions): Promise<void> {
    if (this.#state !== null) return super.closeWrite(options);
    return withIoOptions(options, "TlsConn.closeWrite", (signal) => this.#closeWrite(signal));
  }

  async #closeWrite(signal: AbortSignal | undefined): Promise<void> {
    const io = coreOf(this);
    io.checkOpen("close");
    try {
      await io.writer().inTurn(async () => {
        await waitFor(this.#stream.handshake(), io.writeDeadline, signal);
        await this.#stream.closeWrite();
      }, signal);
    } catch (e) {
      throw io.error("close", e);
    }
  }

  /**
   * Closes the conn, as {@linkcode Conn.close}. Closed before its handshake
   * finished, with nothing sent or received, the TCP socket is shut too:
   * Deno's close leaves it open while its handshake runs (with
   * `--allow-ffi`; without it, only a `node:tls` conn's socket is closed at
   * once).
   */
  override close(): void {
    const io = coreOf(this);
    const quiet = io.reader.bytes === 0 && (io.writerIfAny?.bytes ?? 0) === 0;
    if (!io.closed && this.#state === null && quiet) shutdownSocket(io.sock!);
    super.close();
  }

  /**
   * Closes the conn and waits until the runtime has ended every operation
   * it had in flight and the socket is closed (a `node:tls` conn sends
   * `close_notify` first, for at most a second).
   */
  override async [Symbol.asyncDispose](): Promise<void> {
    await super[Symbol.asyncDispose]();
    await this.#stream.released;
  }
}

/**
 * STARTTLS on a TCP conn's core, {@linkcode TcpConn.startTls}: the client
 * side through `Deno.startTls`, the server side (`isServer: true`) through
 * `node:tls`. Consumes the core; the TLS conn keeps its deadlines.
 */
export async function startTls(
  io: IoCore,
  options: StartTlsOptions | ServerStartTlsOptions | undefined,
): Promise<TlsConn> {
  const where = "TcpConn.startTls";
  checkOptions(
    options,
    where,
    options?.isServer === true ? SERVER_START_TLS_KEYS : CLIENT_START_TLS_KEYS,
  );
  checkSides(options, where);
  // Everything that can fail on the options fails here, before the conn is consumed.
  const side: { server: ServerTls; client?: never } | { client: StartTlsOptions; server?: never } =
    typeof options === "object" && options?.isServer === true
      ? { server: new ServerTls(checkServerStartTls(options, where)) }
      : { client: checkTlsOptions(options as StartTlsOptions | undefined, where) };
  const signal = options?.signal;
  io.checkOpen("handshake");
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
  const tcp = io.raw as Deno.TcpConn;
  io.consume();
  let tls: TlsConn;
  if (side.server !== undefined) {
    tls = tlsConnOver(side.server.serve(tcp), { [INHERITED]: true });
  } else if (side.client.cert !== undefined) {
    // Deno.startTls presents no client certificate: node:tls does.
    const { hostname, caCerts, alpnProtocols, cert, key } = side.client;
    tls = tlsConnOver(
      clientTls(tcp, {
        serverName: hostname ?? (io.remoteAddr as Deno.NetAddr).hostname,
        caCerts,
        cert,
        key,
        alpnProtocols,
      }),
      { [INHERITED]: true },
    );
  } else {
    const checked = side.client;
    const hostname = checked.hostname ?? (io.remoteAddr as Deno.NetAddr).hostname;
    try {
      const tlsRaw = await Deno.startTls(tcp, {
        hostname,
        ...(checked.caCerts === undefined ? {} : { caCerts: checked.caCerts }),
        ...(checked.alpnProtocols === undefined ? {} : { alpnProtocols: checked.alpnProtocols }),
      });
      tls = tlsConnOver(denoStream(tlsRaw, { serverName: hostname, verified: true }), {
        [INHERITED]: true,
      });
    } catch (e) {
      closeQuietly(tcp); // refused before the handshake, Deno leaves the TCP conn open
      // The core is consumed (closed), but this is the runtime's error, not a close.
      throw toNetError(e, io.site("handshake"));
    }
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

/** busyPoll is for TCP conns: kernel-first I/O cannot read TLS records. */
export function refuseBusyPoll(where: string): never {
  throw new NotSupportedError(`${where}: busyPoll needs a TCP conn (TLS reads go through Deno)`, {
    op: "set",
  });
}

/** The keys of {@linkcode StartTlsOptions} (the other side's are told apart by checkSides). */
const CLIENT_START_TLS_KEYS = [
  "isServer",
  "hostname",
  "caCerts",
  "alpnProtocols",
  "cert",
  "key",
  "signal",
  "clientAuth",
  "clientCas",
] as const;
/** The keys of {@linkcode ServerStartTlsOptions} (the other side's are told apart by checkSides). */
const SERVER_START_TLS_KEYS = [
  "isServer",
  "cert",
  "key",
  "clientAuth",
  "clientCas",
  "alpnProtocols",
  "signal",
  "hostname",
  "caCerts",
] as const;

/**
 * Checks that startTls's options are of one side: `isServer` a boolean, and
 * no option of the other side (a server's `clientAuth` on a client, a
 * client's `hostname` on a server), which would be silently ignored.
 */
function checkSides(options: unknown, where: string): void {
  if (typeof options !== "object" || options === null) return;
  const given = options as Record<string, unknown>;
  const isServer = given.isServer;
  if (isServer !== undefined && typeof isServer !== "boolean") {
    throw optionError(where, "isServer", "a boolean", isServer);
  }
  const others = isServer ? ["hostname", "caCerts"] : ["clientAuth", "clientCas"];
  const wrong = others.filter((name) => given[name] !== undefined);
  if (wrong.length > 0) {
    throw new TypeError(
      `${where} option "${wrong[0]}" is for the ${isServer ? "client" : "server"} side: ` +
        `received it with isServer ${isServer === true}`,
    );
  }
}

/** Closes a runtime conn, if it is still open. */
function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Taken over or closed already.
  }
}

/**
 * Checks TLS client options field by field: the name to verify must be one
 * the runtime takes, ALPN names 1 to 255 bytes, CA texts parseable PEM.
 *
 * @throws {TypeError} For a field of the wrong type, a malformed name or a corrupt CA.
 * @throws {RangeError} For an ALPN list out of bounds.
 */
export function checkTlsOptions<T extends StartTlsOptions>(
  options: T | undefined,
  where: string,
): T {
  const checked = checkOptions(options, where);
  const { hostname, caCerts, alpnProtocols, signal, cert, key } = checked;
  if (hostname !== undefined) checkServerName(hostname, where);
  checkCaList(caCerts, where, "caCerts");
  checkAlpn(alpnProtocols, where);
  checkSignal(signal, where);
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError(`${where} options "cert" and "key" go together: one is missing`);
  }
  if (cert !== undefined) checkCertifiedKey(checked, where);
  return checked;
}

/** Checked server TLS options: what a `node:tls` server handshake takes. */
export interface ServerTlsOptions {
  cert: string;
  key: string;
  clientAuth: ClientAuth;
  clientCas: string[];
  alpnProtocols: string[] | undefined;
}

/**
 * Checks the options of a TLS server (`listenTls`, `startTls({ isServer })`):
 * certificate and key parse, a known `clientAuth`, `clientCas` given exactly
 * when a mode verifies.
 *
 * @throws {TypeError} For a missing, non-PEM or corrupt certificate or key,
 *   an unknown mode, or `clientCas` missing where the mode verifies.
 * @throws {RangeError} For an ALPN list out of bounds.
 */
export function checkServerTls(
  options: Partial<ServerStartTlsOptions>,
  where: string,
): ServerTlsOptions {
  const { cert, key } = checkCertifiedKey(options, where);
  const clientAuth = checkClientAuth(options.clientAuth, where);
  const cas = options.clientCas;
  const clientCas = typeof cas === "string" ? [cas] : checkCaList(cas, where, "clientCas") ?? [];
  if (typeof cas === "string") parseCerts(cas, where, "clientCas");
  const verifies = clientAuth === "verify-if-given" || clientAuth === "require-and-verify";
  if (verifies && clientCas.length === 0) {
    throw new TypeError(
      `${where} option "clientCas" is needed with clientAuth "${clientAuth}": ` +
        "the authorities to verify client certificates against",
    );
  }
  if (!verifies && cas !== undefined) {
    throw new TypeError(
      `${where} option "clientCas" is used only with clientAuth "verify-if-given" or ` +
        `"require-and-verify": received clientAuth "${clientAuth}"`,
    );
  }
  return {
    cert,
    key,
    clientAuth,
    clientCas,
    alpnProtocols: checkAlpn(options.alpnProtocols, where),
  };
}

/** Checks the server side of startTls; returns the server's configuration. */
function checkServerStartTls(options: ServerStartTlsOptions, where: string) {
  checkSignal(options.signal, where);
  const { cert, key, clientAuth, clientCas, alpnProtocols } = checkServerTls(options, where);
  return { certificates: { cert, key }, clientAuth, clientCas, alpnProtocols };
}

/** Options for {@linkcode TcpConn.startTls} as the client: how it verifies the server. */
export interface StartTlsOptions {
  /** The client side (the default); `true` is {@linkcode ServerStartTlsOptions}. */
  isServer?: false;
  /** The name to verify the server's certificate for. @default {the remote address's host} */
  hostname?: string;
  /** PEM certificates of the authorities to trust, instead of the system's. */
  caCerts?: string[];
  /** ALPN protocols to offer, in order of preference: each 1 to 255 bytes. */
  alpnProtocols?: string[];
  /**
   * A client certificate chain (PEM), with {@linkcode StartTlsOptions.key},
   * for a server that asks for one. Deno's own TLS presents none on an
   * upgraded conn, so with a certificate the handshake runs through
   * `node:tls` (slower per byte: see the README).
   */
  cert?: string;
  /** The client certificate's private key (PEM). */
  key?: string;
  /** Ends the handshake early: the upgraded conn is closed. */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode TcpConn.startTls} as the server, Go's
 * `tls.Server(conn, config)`: the certificate to serve, and what to ask of
 * the client.
 */
export interface ServerStartTlsOptions {
  /** The server side. */
  isServer: true;
  /** The server's certificate chain (PEM), leaf first. */
  cert: string;
  /** The certificate's private key (PEM). */
  key: string;
  /**
   * What to ask of the client's certificate, Go's `tls.ClientAuthType`:
   * `"none"` asks for none; `"request"` asks, and takes any or none;
   * `"require"` needs one, any; `"verify-if-given"` takes none, or one that
   * verifies against `clientCas`; `"require-and-verify"` needs one that
   * verifies. A certificate that fails fails the handshake (kind `"tls"`).
   *
   * @default {"none"}
   */
  clientAuth?: ClientAuth;
  /** The authorities client certificates are verified against (PEM); needed by the verifying modes. */
  clientCas?: string | string[];
  /** ALPN protocols the server accepts, in order of preference. */
  alpnProtocols?: string[];
  /** Ends the handshake early: the upgraded conn is closed. */
  signal?: AbortSignal;
}
