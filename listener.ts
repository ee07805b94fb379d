/**
 * listen, listenTls and Listener: accept TCP, TLS and unix-socket
 * connections, as Go's `net.Listen`, `tls.Listen` and `net.Listener`.
 *
 * @module
 */

import {
  type Address,
  checkUnixAddress,
  formatAddr,
  isUnixAddress,
  joinHostPort,
  normalizeAddr,
  parseAddress,
  type UnixAddress,
} from "./address.ts";
import { type Conn, withIoOptions } from "./conn.ts";
import { TcpConn } from "./tcp.ts";
import {
  checkConnOptions,
  type ConnOptions,
  INHERITED,
  type InternalConnOptions,
} from "./tcp_options.ts";
import {
  checkServerTls,
  type ClientAuth,
  type ServerStartTlsOptions,
  TlsConn,
  tlsConnOver,
} from "./tls.ts";
import { ServerTls } from "./_tls/node_server.ts";
import { type CertifiedKey, checkCertifiedKey, checkSni } from "./_tls/options.ts";
import { UnixConn } from "./unix.ts";
import {
  listenerFd,
  setKeepAlive,
  setKeepAliveConfig,
  setNoDelay,
  sockoptSupported,
} from "./sockopt/mod.ts";
import { checkAbsolute, Deadline, type DeadlineTime } from "./deadline.ts";
import { checkReusePort, maxListenerBacklog } from "./_sys/listen.ts";
import { releaseFd } from "./_sys/fd.ts";
import { ClosedError, type NetError, NotSupportedError, toNetError } from "./errors.ts";
import { checkBooleanOption, checkInteger, checkKeys, checkOptions, describe } from "./_check.ts";
import { CLOSED, dueInterrupt, Fifo, Interrupt, Leftover, waitFor } from "./_io/wait.ts";
import { Backoff, isTemporaryAcceptError, pause } from "./_accept_retry.ts";

/** Makes a listener serve TLS over node:tls on each accepted TCP conn: for listenTls only. */
let serveTls: (listener: Listener<TcpConn | TlsConn>, tls: ServerTls) => void;

/** Options for {@linkcode listen}: the backlog, and options for accepted conns. */
export interface ListenOptions extends ConnOptions {
  /**
   * The length of the queue of connections the OS completes before
   * `accept` takes them. About `backlog + 1` dials succeed while nobody
   * accepts; later ones hang. The OS caps it at its maximum.
   *
   * @default {the OS maximum, as Go reads it (Linux: net.core.somaxconn)}
   */
  backlog?: number;
  /**
   * Let several listeners bind the same address, the kernel spreading
   * connections among them (SO_REUSEPORT). Deno needs `--unstable-net` for
   * it; without the flag `listen` throws {@linkcode NotSupportedError}
   * (where Deno itself would end the process).
   *
   * @default {false}
   */
  reusePort?: boolean;
}

/** Options for {@linkcode Listener.accept}. */
export interface AcceptOptions {
  /** Ends this accept early; a connection that arrives later goes to the next accept. */
  signal?: AbortSignal;
  /**
   * Milliseconds this accept may wait, beside the listener's deadline
   * (whichever comes first): then it fails with a TimeoutError. 0 or
   * omitted: no limit; negative: already passed.
   */
  timeout?: number;
}

/**
 * Listens on a unix socket, as Go's `net.Listen("unix", path)`: accepted
 * conns are {@linkcode UnixConn}s. As in Go, a path that exists fails with
 * kind `"addr-in-use"`, and closing the listener removes the socket file
 * it made. Needs `--allow-read`, `--allow-write` and `--allow-net`; the TCP
 * options (`backlog`, `reusePort`, `noDelay`, `keepAlive`, `busyPoll`) are a TypeError.
 *
 * @param address `{ transport: "unix", path }`.
 * @param options Nothing a unix listener takes: leave it out.
 * @returns The listener.
 * @throws {NetError} Kind `"addr-in-use"` when the path exists, `"invalid-address"` for an empty one.
 *
 * @example Listen on a unix socket; close removes the file
 * ```ts
 * import { listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/example.sock`;
 * const ln = listen({ transport: "unix", path });
 * assert.equal(String(ln.addr), path);
 * await ln[Symbol.asyncDispose]();
 * assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function listen(address: UnixAddress, options?: ListenOptions): Listener<UnixConn>;
/**
 * Listens for TCP connections, as Go's `net.Listen("tcp", address)`.
 *
 * `":8001"` (or an object without `hostname`) listens on every interface,
 * IPv4 and IPv6, as in Go; port 0 picks a free port, which
 * {@linkcode Listener.addr} reports. SO_REUSEADDR is on, as in Go, so a
 * restarted server can listen again at once.
 *
 * @param address Where to listen.
 * @param options Backlog and options for accepted conns.
 * @returns The listener.
 * @throws {NetError} Kind `"invalid-address"` for a malformed address or a
 *   port out of range; `"addr-in-use"` when the address is taken;
 *   `"addr-not-available"` when the host is not local.
 * @throws {TypeError} When an option has the wrong type.
 * @throws {RangeError} When `backlog` is not an integer >= 0.
 *
 * @example Listen on a free port and accept one conn
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * assert.ok(ln.addr.port > 0);
 * await using client = await dial(ln.addr);
 * await using server = await ln.accept();
 * assert.equal(server.localAddr.port, ln.addr.port);
 * ```
 */
export function listen(address: Address, options?: ListenOptions): Listener;
export function listen(
  address: Address | UnixAddress,
  options?: ListenOptions,
): Listener | Listener<UnixConn> {
  const checked = checkListenOptions(options, "listen", LISTEN_KEYS);
  if (isUnixAddress(address)) {
    const tcpOnly = ["backlog", "reusePort", "noDelay", "keepAlive", "busyPoll"] as const;
    const given = tcpOnly.filter((name) => checked[name] !== undefined);
    if (given.length > 0) {
      throw new TypeError(`listen options ${given.join(", ")} are for TCP: this is a unix address`);
    }
    const path = checkUnixAddress(address, "listen");
    try {
      return new Listener<UnixConn>(Deno.listen({ transport: "unix", path }));
    } catch (e) {
      throw toNetError(e, { op: "listen", net: "unix", addr: path });
    }
  }
  return bindTcp(address, checked, (bind) => Deno.listen({ ...bind, transport: "tcp" }));
}

/** Options for {@linkcode listenTls}: the server's certificates, what it asks of clients, ALPN, and the listen options. */
export interface ListenTlsOptions extends Omit<ListenOptions, "busyPoll"> {
  /** The server's certificate chain (PEM), leaf first. */
  cert: string;
  /** The certificate's private key (PEM). */
  key: string;
  /** ALPN protocols the server accepts, in order of preference: each 1 to 255 bytes. */
  alpnProtocols?: string[];
  /**
   * What to ask of a client's certificate, Go's `tls.ClientAuthType`:
   *
   * - `"none"`: ask for none (Go's `NoClientCert`)
   * - `"request"`: ask; take any certificate, or none, unverified (`RequestClientCert`)
   * - `"require"`: one is needed, any, unverified (`RequireAnyClientCert`)
   * - `"verify-if-given"`: none, or one that verifies against `clientCas`
   *   (`VerifyClientCertIfGiven`)
   * - `"require-and-verify"`: one is needed that verifies against
   *   `clientCas` (`RequireAndVerifyClientCert`)
   *
   * A certificate that fails the mode fails the server's handshake (kind
   * `"tls"`, with why in the message): the conn never reads or writes a
   * byte, and the client finds its conn closed. `tlsState()` tells what the
   * client sent and whether it was verified.
   *
   * @default {"none"}
   */
  clientAuth?: ClientAuth;
  /** The authorities client certificates are verified against (PEM): needed by the verifying modes, refused by the others. */
  clientCas?: string | string[];
  /**
   * Certificates by server name (SNI): a client that asks for one of these
   * names (exactly, or under a `*.` wildcard) gets its certificate; any
   * other, or none, gets `cert`. Names are DNS names, matched without case.
   */
  sni?: Record<string, CertifiedKey>;
}

/** The certificates for {@linkcode Listener.setCertificates}. */
export interface ListenerCertificates {
  /** The default certificate chain (PEM), leaf first. */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** Certificates by server name, as in {@linkcode ListenTlsOptions.sni}; left out, none. */
  sni?: Record<string, CertifiedKey>;
}

/**
 * Listens for TLS connections, as Go's `tls.Listen("tcp", address, config)`:
 * the address and options of {@linkcode listen}, plus the server's
 * certificate, ALPN protocols, client certificates (`clientAuth`,
 * `clientCas`) and certificates by server name (`sni`). `accept()` returns
 * as soon as the TCP connection is made, before its handshake, so a client
 * that connects and never finishes its handshake holds up nobody; the
 * handshake runs by itself and the first read or write (or
 * `conn.handshake()`) waits for it, bounded by that conn's deadlines.
 *
 * Two paths: without `clientAuth` and `sni` the listener is Deno's own TLS
 * listener (the fastest); with either, it is a TCP listener whose conns run
 * their TLS through Deno's built-in `node:tls` (Deno's TLS listener cannot
 * ask for client certificates nor serve by name), and the client's chain
 * is verified by netconn (`node:tls` does not on this path). Only the
 * second can {@linkcode Listener.setCertificates}; pass `sni: {}` to have
 * it without names. See the README for what each costs.
 *
 * Accepted conns get Go's Nagle and keepalive defaults; on Deno's path only
 * with `--allow-ffi` (Deno has no setters on TLS conns), without it they
 * keep Deno's (Nagle on, no keepalive).
 *
 * @param address Where to listen, in Go's syntax.
 * @param options Certificates, client authentication, ALPN protocols, SNI, and the listen options.
 * @returns The listener; its conns are TLS conns (`network === "tls"`).
 * @throws {NetError} As {@linkcode listen}.
 * @throws {TypeError} When `cert` or `key` is missing, not PEM or corrupt,
 *   `clientAuth` unknown, `clientCas` missing for a verifying mode, or an
 *   option has the wrong type; nothing is bound.
 * @throws {RangeError} For ALPN names out of bounds; nothing is bound.
 *
 * @example Serve TLS and read the ALPN protocol
 * ```ts
 * import { dialTls, listenTls } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const dir = new URL("./tests/certs/", import.meta.url);
 * const cert = Deno.readTextFileSync(new URL("server.pem", dir));
 * const key = Deno.readTextFileSync(new URL("server.key", dir));
 * const ca = Deno.readTextFileSync(new URL("ca.pem", dir));
 *
 * await using ln = listenTls("127.0.0.1:0", { cert, key, alpnProtocols: ["h2", "http/1.1"] });
 * const dialed = dialTls(ln.addr, { hostname: "localhost", caCerts: [ca], alpnProtocols: ["http/1.1"] });
 * await using server = await ln.accept();
 * await using client = await dialed;
 * assert.equal(server.network, "tls");
 * assert.deepEqual(await server.handshake(), { alpnProtocol: "http/1.1" });
 * ```
 *
 * @example Require a client certificate
 * ```ts
 * import { dialTls, listenTls, NetError } from "@netconn/netconn";
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
 * // Without a certificate: the server's handshake fails.
 * const accepted = ln.accept();
 * await using anonymous = await dialTls(ln.addr, { hostname: "localhost", caCerts: [read("ca.pem")] });
 * await using refused = await accepted;
 * const err = await refused.handshake().catch((e) => e);
 * assert.ok(err instanceof NetError);
 * assert.equal(err.kind, "tls");
 * ```
 */
export function listenTls(address: Address, options: ListenTlsOptions): Listener<TlsConn> {
  const checked = checkListenOptions(options, "listenTls", LISTEN_TLS_KEYS);
  const { cert, key, clientAuth, clientCas, alpnProtocols } = checkServerTls(
    checked as Partial<ServerStartTlsOptions>,
    "listenTls",
  );
  const sni = checkSni(checked.sni, "listenTls");
  if (clientAuth === "none" && sni === undefined) {
    return bindTcp(address, checked, (bind) =>
      Deno.listenTls({
        ...bind,
        transport: "tcp",
        cert,
        key,
        ...(alpnProtocols === undefined ? {} : { alpnProtocols }),
      }));
  }
  const tls = new ServerTls({
    certificates: { cert, key, ...(sni === undefined ? {} : { sni }) },
    clientAuth,
    clientCas,
    alpnProtocols,
  });
  return bindTcp(address, checked, (bind) => Deno.listen({ ...bind, transport: "tcp" }), tls);
}

/** The keys of {@linkcode ListenOptions}. */
const LISTEN_KEYS = ["backlog", "reusePort", "noDelay", "keepAlive", "busyPoll"] as const;
/** The keys of {@linkcode ListenTlsOptions}. */
const LISTEN_TLS_KEYS = [
  ...LISTEN_KEYS.filter((key) => key !== "busyPoll"), // TLS reads go through Deno
  "cert",
  "key",
  "alpnProtocols",
  "clientAuth",
  "clientCas",
  "sni",
] as const;

/** Checks the options every listen takes; a key not in `known` is a TypeError. */
function checkListenOptions<T extends ListenOptions>(
  options: T | undefined,
  where: string,
  known: readonly string[],
): T {
  const checked = checkOptions(options, where, known);
  const { backlog, reusePort } = checked;
  if (backlog !== undefined) checkInteger(backlog, `${where} option "backlog"`, 0, 2 ** 31 - 1);
  checkBooleanOption(reusePort, where, "reusePort");
  checkConnOptions(checked, where);
  return checked;
}

/** What a TCP (or TLS) listener binds. */
interface TcpBind {
  hostname: string;
  port: number;
  tcpBacklog: number;
  reusePort?: boolean;
}

/**
 * Binds a TCP (or TLS) listener as Go does: `":port"` on `::` with IPv4
 * mapped in, falling back to `0.0.0.0` where IPv6 is off; the backlog from
 * the OS maximum.
 */
function bindTcp<C extends TcpConn | TlsConn>(
  address: Address,
  options: ListenOptions,
  open: (bind: TcpBind) => Deno.TcpListener | Deno.TlsListener,
  tls?: ServerTls,
): Listener<C> {
  const { backlog, reusePort = false, noDelay, keepAlive, busyPoll } = options;
  if (reusePort) checkReusePort();
  const { hostname, port } = parseAddress(address, "listen");
  const hosts = hostname === "" ? ["::", "0.0.0.0"] : [hostname];
  let error: unknown;
  for (const host of hosts) {
    try {
      const ln = open({
        hostname: host,
        port,
        tcpBacklog: backlog ?? maxListenerBacklog(),
        ...(reusePort ? { reusePort } : {}),
      });
      const connOptions: InternalConnOptions = {
        ...(noDelay === undefined ? {} : { noDelay }),
        ...(keepAlive === undefined ? {} : { keepAlive }),
        ...(busyPoll === undefined ? {} : { busyPoll }),
      };
      if (setOnListener(ln, noDelay ?? true, keepAlive ?? true)) connOptions[INHERITED] = true;
      const listener = new Listener<C>(ln, connOptions);
      if (tls !== undefined) serveTls(listener, tls);
      return listener;
    } catch (e) {
      error = e; // "::" fails where IPv6 is off: try IPv4 only
    }
  }
  throw toNetError(error, { op: "listen", addr: joinHostPort(hosts.at(-1)!, port) });
}

/**
 * Sets Nagle and keepalive on the listening socket, where accepted sockets
 * inherit them (Linux, with `--allow-ffi`): Go's defaults for every accepted
 * conn at the cost of one lookup, not one per conn. False where they cannot
 * be set, and each accepted conn gets them itself.
 */
function setOnListener(
  ln: Deno.TcpListener | Deno.TlsListener,
  noDelay: boolean,
  keepAlive: boolean | number,
): boolean {
  if (Deno.build.os !== "linux" || !sockoptSupported()) return false;
  try {
    const fd = listenerFd(ln);
    setNoDelay(fd, noDelay);
    if (keepAlive === false || (typeof keepAlive === "number" && keepAlive < 0)) {
      setKeepAlive(fd, false);
    } else {
      const period = keepAlive === true ? 0 : keepAlive; // 0: Go's 15 s
      setKeepAliveConfig(fd, { enable: true, idle: period, interval: period });
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Listener accepts TCP connections, made by {@linkcode listen}.
 *
 * `accept()` waits for the next connection; concurrent accepts are served in
 * order. {@linkcode Listener.setDeadline} bounds waiting accepts, as Go's
 * `TCPListener.SetDeadline`: when it passes they fail with a
 * {@linkcode TimeoutError}, and a connection that arrives later is kept for
 * the next accept, never lost. After {@linkcode Listener.close}, every
 * pending and later accept fails with {@linkcode ClosedError}; once they have
 * failed, the port can be listened on again at once.
 *
 * Iterating a listener (`for await (const conn of ln)`) accepts until it is
 * closed. A temporary accept error (too many open files, out of memory or
 * buffers, a connection aborted in the backlog) does not end it: it waits
 * 5 ms, doubling up to 1 s, and accepts again, as Go's `http.Server` does.
 * Any other error ends it by throwing.
 *
 * @example Serve until closed
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const ln = listen("127.0.0.1:0");
 * const served = (async () => {
 *   let count = 0;
 *   for await (const conn of ln) {
 *     await conn.write(new Uint8Array([count++]));
 *     conn.close();
 *   }
 *   return count;
 * })();
 * for (let i = 0; i < 3; i++) {
 *   await using conn = await dial(ln.addr);
 *   const buf = new Uint8Array(1);
 *   assert.equal(await conn.read(buf), 1);
 *   assert.equal(buf[0], i);
 * }
 * await ln[Symbol.asyncDispose]();
 * assert.equal(await served, 3);
 * ```
 */
export class Listener<C extends Conn = TcpConn> implements AsyncDisposable, AsyncIterable<C> {
  #ln: Deno.Listener;
  #addr: Deno.Addr;
  #site: { op: "accept"; net: string; addr: string };
  #connOptions: ConnOptions;
  #deadline = new Deadline();
  #accepts = new Fifo();
  #pending = new Leftover<Deno.Conn>(); // a runtime accept a deadline left running
  #closed = false;
  #closing = new AbortController(); // aborted by close(): ends the iterator's back-off
  #tls: ServerTls | null = null; // TLS over node:tls for each accepted TCP conn (listenTls)

  static {
    serveTls = (listener, tls) => {
      listener.#tls = tls;
    };
  }

  /**
   * Wraps a Deno listener (TCP, TLS or unix); {@linkcode listen} and
   * {@linkcode listenTls} are the usual ways to get one.
   *
   * @param ln The listener. The Listener owns it from now on.
   * @param options Options applied to each accepted TCP or TLS conn.
   */
  constructor(ln: Deno.TcpListener | Deno.TlsListener | Deno.UnixListener, options?: ConnOptions) {
    if (
      typeof ln !== "object" || ln === null || typeof ln.accept !== "function" ||
      typeof ln.addr !== "object" || ln.addr === null
    ) {
      throw new TypeError(
        `new Listener takes a Deno.TcpListener, TlsListener or UnixListener: received ${
          describe(ln)
        }`,
      );
    }
    this.#connOptions = checkConnOptions(options, "new Listener");
    this.#ln = ln as Deno.Listener;
    this.#addr = normalizeAddr(ln.addr);
    const net = "hostname" in this.#addr ? "tcp" : "unix";
    this.#site = { op: "accept", net, addr: formatAddr(this.#addr) };
  }

  /**
   * The address the listener is bound to, with the port the OS picked for
   * port 0; it prints as Go prints it. (A unix listener's is a
   * `Deno.UnixAddr`, printing as its path.)
   */
  get addr(): C extends UnixConn ? Deno.UnixAddr : Deno.NetAddr {
    return this.#addr as C extends UnixConn ? Deno.UnixAddr : Deno.NetAddr;
  }

  /**
   * Waits for and returns the next connection.
   *
   * @param options A signal that ends this accept early.
   * @returns The accepted {@linkcode Conn}, with the listener's conn options applied.
   * @throws {TimeoutError} The deadline passed.
   * @throws {ClosedError} The listener was closed.
   * @throws {NetError} `signal` fired (`"aborted"`), or the OS refused (e.g. too many open files).
   */
  accept(options?: AcceptOptions): Promise<C> {
    if (options === undefined) return this.#accept(undefined);
    return withIoOptions(options, "Listener.accept", (signal) => this.#accept(signal));
  }

  async #accept(signal: AbortSignal | undefined): Promise<C> {
    const due = this.#closed ? CLOSED : dueInterrupt(this.#deadline, signal);
    if (due !== undefined) throw await this.#error(due);
    try {
      if (!this.#accepts.tryAcquire()) await this.#accepts.acquire(this.#deadline, signal);
    } catch (e) {
      throw await this.#error(e);
    }
    try {
      const op = this.#pending.adopt(() => this.#ln.accept());
      const raw = await waitFor(op, this.#deadline, signal);
      this.#pending.clear();
      return this.#wrap(raw) as C;
    } catch (e) {
      throw await this.#error(e);
    } finally {
      this.#accepts.release();
    }
  }

  /** An accepted runtime conn as the Conn of its network, with the listener's conn options. */
  #wrap(raw: Deno.Conn): Conn {
    if (this.#tls !== null) return this.#serveTls(raw as Deno.TcpConn, this.#tls);
    if ("handshake" in raw) return new TlsConn(raw as Deno.TlsConn, this.#connOptions);
    if (raw.localAddr.transport === "unix") return new UnixConn(raw as Deno.UnixConn);
    return new TcpConn(raw as Deno.TcpConn, this.#connOptions);
  }

  /** An accepted TCP conn as a TLS conn over node:tls, with Go's socket defaults set directly. */
  #serveTls(raw: Deno.TcpConn, tls: ServerTls): TlsConn {
    const options: InternalConnOptions = this.#connOptions;
    if (!options[INHERITED]) {
      const { noDelay = true, keepAlive = true } = options;
      try {
        raw.setNoDelay(noDelay);
        raw.setKeepAlive(
          !(keepAlive === false || (typeof keepAlive === "number" && keepAlive < 0)),
        );
      } catch {
        // The peer reset it already; the handshake says how.
      }
    }
    return tlsConnOver(tls.serve(raw), options);
  }

  /**
   * Swaps the certificates this TLS listener serves, as Go's
   * `GetCertificate` allows: handshakes that start from now on get the new
   * ones; the listener and every open conn are left as they are. Only a
   * listener on `node:tls` can (one made by {@linkcode listenTls} with
   * `clientAuth` or `sni`, `sni: {}` will do); the certificate of Deno's
   * own TLS listener is fixed.
   *
   * @param certificates The new default certificate and key, and certificates by name.
   * @throws {TypeError} For a missing, non-PEM or corrupt certificate or
   *   key, or a bad SNI table; nothing changes.
   * @throws {NotSupportedError} On a listener that cannot swap them.
   * @throws {ClosedError} If the listener is closed.
   *
   * @example Rotate a certificate
   * ```ts
   * import { dialTls, listenTls, NetError } from "@netconn/netconn";
   * import assert from "node:assert/strict";
   *
   * const dir = new URL("./tests/certs/", import.meta.url);
   * const read = (name: string) => Deno.readTextFileSync(new URL(name, dir));
   * const ca = read("ca.pem");
   * await using ln = listenTls("127.0.0.1:0", { cert: read("unknown.pem"), key: read("unknown.key"), sni: {} });
   * const first = ln.accept();
   * const err = await dialTls(ln.addr, { hostname: "localhost", caCerts: [ca] }).catch((e) => e);
   * assert.ok(err instanceof NetError && err.kind === "tls"); // signed by an unknown CA
   * (await first).close();
   *
   * ln.setCertificates({ cert: read("server.pem"), key: read("server.key") });
   * const second = ln.accept();
   * await using client = await dialTls(ln.addr, { hostname: "localhost", caCerts: [ca] });
   * await using _server = await second;
   * assert.equal(client.tlsState().handshakeComplete, true);
   * ```
   */
  setCertificates(certificates: ListenerCertificates): void {
    const where = "Listener.setCertificates";
    const { cert, key } = checkCertifiedKey(certificates, where);
    checkKeys(certificates, where, ["cert", "key", "sni"]);
    const sni = checkSni(certificates.sni, where);
    if (this.#closed) throw toNetError(CLOSED, { ...this.#site, op: "set" });
    if (this.#tls === null) {
      throw new NotSupportedError(
        `${where}: this listener's certificate is fixed (Deno's TLS listener, or no TLS); ` +
          'listenTls with "sni" or "clientAuth" makes one that can swap them',
        { ...this.#site, op: "set" },
      );
    }
    this.#tls.setCertificates({ cert, key, ...(sni === undefined ? {} : { sni }) });
  }

  /**
   * Sets the deadline for pending and future accepts, as Go's
   * `TCPListener.SetDeadline`: absolute, movable, `null` or `0` for none.
   *
   * @param t A `Date` or epoch milliseconds; `null` or `0` for none.
   * @throws {RangeError} If `t` is NaN, infinite or an invalid `Date`.
   * @throws {ClosedError} If the listener is closed.
   */
  setDeadline(t: DeadlineTime): void {
    checkAbsolute(t, "Listener.setDeadline");
    if (this.#closed) throw toNetError(CLOSED, { ...this.#site, op: "set" });
    this.#deadline.set(t, "Listener.setDeadline");
  }

  /**
   * Stops listening. Pending and later accepts fail with
   * {@linkcode ClosedError}. Calling it again does nothing. Conns already
   * accepted stay open.
   *
   * Deno frees the port once its own pending accept has settled, a moment
   * after `close()`: await a pending `accept()`, or use
   * `await ln[Symbol.asyncDispose]()`, before listening on the port again.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.#deadline.dispose();
    this.#accepts.close();
    try {
      this.#ln.close();
    } catch {
      // Already closed by the runtime: nothing to undo.
    }
    if (this.#site.net === "tcp") releaseFd({ addr: this.#addr });
    // A connection that won the race with close() is closed, not leaked.
    this.#pending.op?.then((conn) => conn.close(), () => {});
  }

  /** Closes the listener and waits until its port is free. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#settled();
  }

  /** Accepts connections until the listener is closed; retries temporary errors. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<C> {
    const backoff = new Backoff();
    while (true) {
      let conn: C;
      try {
        conn = await this.accept();
      } catch (e) {
        if (e instanceof ClosedError) return;
        if (!isTemporaryAcceptError(e)) throw e;
        await pause(backoff.next(), this.#closing.signal);
        continue;
      }
      backoff.reset();
      yield conn;
    }
  }

  async #settled(): Promise<void> {
    await this.#pending.settled();
  }

  /** The one way this listener turns a failure (an interrupt, a runtime error) into its NetError. */
  async #error(failure: unknown): Promise<NetError> {
    if (!(failure instanceof Interrupt)) this.#pending.clear(); // the runtime accept failed: over
    if (this.#closed && !(failure instanceof Interrupt && failure.kind !== "closed")) {
      await this.#settled(); // so the port is free when the caller sees the error
    }
    return toNetError(failure, this.#site, {}, this.#closed);
  }
}
