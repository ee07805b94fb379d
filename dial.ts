/**
 * dial and dialTls: connect to a TCP address, a unix socket, or a TLS
 * server, as Go's `net.Dial`, `net.DialTimeout` and `tls.DialWithDialer`.
 *
 * @module
 */

import {
  type Address,
  checkUnixAddress,
  isUnixAddress,
  joinHostPort,
  parseAddress,
  type UnixAddress,
} from "./address.ts";
import { TcpConn } from "./tcp.ts";
import { checkConnOptions, type ConnOptions, connOptionsOf } from "./tcp_options.ts";
import {
  checkTlsOptions,
  denoStream,
  type StartTlsOptions,
  type TlsConn,
  tlsConnOver,
} from "./tls.ts";
import { checkCertifiedKey, checkServerName } from "./_tls/options.ts";
import { UnixConn } from "./unix.ts";
import { NetError, type OpSite, TimeoutError, toNetError } from "./errors.ts";
import { checkFiniteOption, checkOptions, checkSignal, optionError } from "./_check.ts";
import { MAX_TIMER_MS } from "./_io/timers.ts";
import { Interrupt } from "./_io/wait.ts";

/** Options for {@linkcode dial}: a timeout or signal, and the new conn's options. */
export interface DialOptions extends ConnOptions {
  /**
   * Milliseconds to wait for the connection, as Go's `DialTimeout`; 0 for no
   * limit beyond the OS's own; negative, as in Go, for a limit already
   * passed. A dial that runs out fails with a {@linkcode TimeoutError}.
   *
   * @default {0}
   */
  timeout?: number;
  /** Ends the dial early: it fails with a NetError of kind `"aborted"` whose `cause` is the reason. */
  signal?: AbortSignal;
}

/**
 * Connects to a unix socket, as Go's `net.Dial("unix", path)`: the same
 * contract as a TCP conn, without the TCP options (see
 * {@linkcode UnixConn}). Needs `--allow-read`, `--allow-write` and
 * `--allow-net`. The `timeout` and `signal` options apply; `noDelay` and
 * `keepAlive` are a TypeError.
 *
 * @param address `{ transport: "unix", path }`.
 * @param options Timeout and signal.
 * @returns The connected {@linkcode UnixConn}.
 * @throws {NetError} Kind `"invalid-address"` for an empty path; `"refused"`
 *   when nobody listens at a socket file; the runtime's kinds otherwise.
 *
 * @example Dial a unix socket
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/example.sock`;
 * {
 *   await using ln = listen({ transport: "unix", path });
 *   await using conn = await dial({ transport: "unix", path });
 *   await using _peer = await ln.accept();
 *   assert.equal(conn.network, "unix");
 *   assert.equal(String(conn.remoteAddr), path);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function dial(address: UnixAddress, options?: DialOptions): Promise<UnixConn>;
/**
 * Connects to a TCP address, as Go's `net.Dial("tcp", address)`, or to a
 * unix socket, as `net.Dial("unix", path)`.
 *
 * The address is Go's syntax, `"host:port"`, `"[::1]:8001"`, or `":8001"`
 * for the local system (127.0.0.1), or an object like `Deno.NetAddr`; or
 * `{ transport: "unix", path }` for a unix socket (needs `--allow-read`,
 * `--allow-write` and `--allow-net`), which gives a {@linkcode UnixConn}.
 * A TCP conn comes with Go's defaults: Nagle off (`noDelay`), keepalive on.
 *
 * A port nobody listens on fails at once with a NetError of kind
 * `"refused"`. A listener whose backlog is full leaves the dial hanging
 * until `timeout` (a {@linkcode TimeoutError}) or `signal` ends it.
 *
 * @param address Where to connect.
 * @param options Timeout, signal and socket options.
 * @returns The connected {@linkcode Conn}.
 * @throws {NetError} Kind `"invalid-address"` for a malformed address, port
 *   0 or a port out of range (before any network I/O); `"refused"`,
 *   `"unreachable"`, `"lookup"` and others from the OS; `"aborted"` when
 *   `signal` fires.
 * @throws {TimeoutError} When `timeout` runs out or is negative (or `signal`
 *   fires with a timeout reason).
 * @throws {TypeError} When an option has the wrong type (`signal` not an
 *   AbortSignal, `noDelay` not a boolean...), before any network I/O.
 * @throws {RangeError} When `timeout` is NaN or infinite.
 * @throws {NotSupportedError} For a keepalive period without `--allow-ffi`.
 *
 * @example Dial with a timeout
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * await using conn = await dial(`127.0.0.1:${ln.addr.port}`, { timeout: 5000 });
 * await using peer = await ln.accept();
 * assert.equal(conn.remoteAddr.port, ln.addr.port);
 * assert.equal(peer.remoteAddr.port, conn.localAddr.port);
 * ```
 */
export function dial(address: Address, options?: DialOptions): Promise<TcpConn>;
export async function dial(
  address: Address | UnixAddress,
  options?: DialOptions,
): Promise<TcpConn | UnixConn> {
  const checked = checkDialOptions(options, "dial", DIAL_KEYS);
  const { timeout = 0, signal } = checked;
  if (isUnixAddress(address)) {
    if (
      checked.noDelay !== undefined || checked.keepAlive !== undefined ||
      checked.busyPoll !== undefined
    ) {
      throw new TypeError(
        'dial options "noDelay", "keepAlive" and "busyPoll" are for TCP: this is a unix address',
      );
    }
    const path = checkUnixAddress(address, "dial");
    const site = { op: "dial" as const, net: "unix", addr: path };
    using limit = new DialLimit(timeout, signal, site);
    const raw = await limit.race(Deno.connect({ transport: "unix", path }));
    return new UnixConn(raw);
  }
  const { hostname, port, site } = dialTarget(address);
  using limit = new DialLimit(timeout, signal, site);
  const raw = await limit.connect(hostname, port);
  return new TcpConn(raw, connOptionsOf(checked));
}

/** Options for {@linkcode dialTls}: the dial's, how to verify the server, and a client certificate. */
export interface DialTlsOptions
  extends Omit<DialOptions, "busyPoll">, Omit<StartTlsOptions, "signal" | "isServer"> {}

/**
 * Connects to a TLS server, as Go's `tls.DialWithDialer`: Go's address
 * syntax, Go's defaults for the TCP conn (Nagle off, keepalive on), and
 * `timeout` and `signal` covering the TCP connect and the handshake. The
 * returned conn has completed its handshake: `await conn.handshake()` gives
 * the ALPN protocol chosen.
 *
 * The name to verify (`hostname`) may differ from the host dialled
 * (connect to `127.0.0.1`, verify `localhost`), and a client certificate
 * (`cert` + `key`) may be presented, both at once too. Deno's own TLS
 * cannot do both (`Deno.startTls` takes no client certificate,
 * `Deno.connectTls` uses one name to connect and to verify): that one
 * combination runs through `node:tls` over the TCP conn, which verifies
 * the server the same way and costs more per byte (see the README). With
 * a client certificate and the host's own name, Nagle and keepalive are
 * set through libc (`--allow-ffi`); without FFI that conn keeps Deno's
 * defaults (Nagle on, no keepalive).
 *
 * @param address Where to connect, in Go's syntax.
 * @param options Verification, client certificate, ALPN, timeout, signal, socket options.
 * @returns The TLS conn, handshake done.
 * @throws {NetError} Kind `"tls"` (op `"handshake"`) when the handshake
 *   failed (unknown authority, wrong name, expired certificate, a peer not
 *   speaking TLS); the kinds of {@linkcode dial} for the connect.
 * @throws {TimeoutError} When `timeout` runs out, connect and handshake together.
 * @throws {TypeError} When an option has the wrong type, before any network I/O.
 *
 * @example Dial a TLS server that trusts a test CA
 * ```ts
 * import { dialTls, listenTls } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const dir = new URL("./tests/certs/", import.meta.url);
 * const cert = Deno.readTextFileSync(new URL("server.pem", dir));
 * const key = Deno.readTextFileSync(new URL("server.key", dir));
 * const ca = Deno.readTextFileSync(new URL("ca.pem", dir));
 *
 * await using ln = listenTls("127.0.0.1:0", { cert, key, alpnProtocols: ["x-demo"] });
 * const accepted = ln.accept();
 * await using conn = await dialTls(ln.addr, {
 *   hostname: "localhost",
 *   caCerts: [ca],
 *   alpnProtocols: ["x-demo"],
 * });
 * await using server = await accepted;
 * assert.deepEqual(await conn.handshake(), { alpnProtocol: "x-demo" });
 * await conn.write(new TextEncoder().encode("hi"));
 * const buf = new Uint8Array(2);
 * assert.equal(await server.read(buf), 2);
 * ```
 */
export async function dialTls(address: Address, options?: DialTlsOptions): Promise<TlsConn> {
  const checked = checkTlsOptions(checkDialOptions(options, "dialTls", DIAL_TLS_KEYS), "dialTls");
  const { timeout = 0, signal, cert, key } = checked;
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError('dialTls options "cert" and "key" go together: one is missing');
  }
  if (cert !== undefined) checkCertifiedKey(checked, "dialTls");
  const { hostname, port, site } = dialTarget(address);
  const verify = checked.hostname ?? checkServerName(hostname, "dialTls", "address");
  const tlsOptions = {
    ...(checked.caCerts === undefined ? {} : { caCerts: checked.caCerts }),
    ...(checked.alpnProtocols === undefined ? {} : { alpnProtocols: checked.alpnProtocols }),
  };
  using limit = new DialLimit(timeout, signal, site);
  let conn: TlsConn;
  if (cert !== undefined && key !== undefined && verify === hostname) {
    const raw = await limit.race(Deno.connectTls({ hostname, port, cert, key, ...tlsOptions }));
    conn = tlsConnOver(
      denoStream(raw, { serverName: verify, verified: true }),
      connOptionsOf(checked),
    );
    try {
      await conn.handshake({ signal: limit.signal });
    } catch (e) {
      conn.close();
      throw limit.error(e);
    }
  } else {
    // A client certificate with another name to verify goes through node:tls.
    const tcp = new TcpConn(await limit.connect(hostname, port), connOptionsOf(checked));
    try {
      conn = await tcp.startTls({
        hostname: verify,
        ...tlsOptions,
        ...(cert === undefined ? {} : { cert, key }),
        signal: limit.signal,
      });
    } catch (e) {
      tcp.close();
      throw limit.error(e);
    }
  }
  return conn;
}

/** The keys of {@linkcode DialOptions}. */
const DIAL_KEYS = ["timeout", "signal", "noDelay", "keepAlive", "busyPoll"] as const;
/** The keys of {@linkcode DialTlsOptions}. */
const DIAL_TLS_KEYS = [
  ...DIAL_KEYS.filter((key) => key !== "busyPoll"), // TLS reads go through Deno
  "hostname",
  "caCerts",
  "alpnProtocols",
  "cert",
  "key",
] as const;

/** Checks the options every dial takes; a key not in `known` is a TypeError. */
function checkDialOptions<T extends DialOptions>(
  options: T | undefined,
  where: string,
  known: readonly string[],
): T {
  const checked = checkOptions(options, where, known);
  const { timeout, signal } = checked;
  if (timeout !== undefined && typeof timeout !== "number") {
    throw optionError(where, "timeout", "milliseconds", timeout);
  }
  checkFiniteOption(timeout, where, "timeout");
  checkSignal(signal, where);
  checkConnOptions(checked, where);
  return checked;
}

/** Where a TCP dial goes: the host (127.0.0.1 for ":port"), the port, and its error site. */
function dialTarget(address: Address): { hostname: string; port: number; site: OpSite } {
  const parsed = parseAddress(address, "dial");
  const hostname = parsed.hostname === "" ? "127.0.0.1" : parsed.hostname;
  const addr = joinHostPort(hostname, parsed.port);
  if (parsed.port === 0) {
    throw new NetError(`address "${addr}": port 0 cannot be dialed`, {
      op: "dial",
      kind: "invalid-address",
    });
  }
  return { hostname, port: parsed.port, site: { op: "dial", addr } };
}

/**
 * The time limit and signal of one dial, shared by its connect and its TLS
 * handshake: one AbortSignal that fires when the timeout runs out or the
 * caller's signal fires. A negative timeout has passed already, as in Go.
 */
class DialLimit implements Disposable {
  #made: AbortController | null = null; // made on first use: a dial with no limit needs none
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = false;
  #caller: AbortSignal | undefined;
  #site: OpSite;
  #onAbort = (): void => this.#controller.abort();

  get #controller(): AbortController {
    return this.#made ??= new AbortController();
  }

  constructor(timeout: number, signal: AbortSignal | undefined, site: OpSite) {
    this.#caller = signal;
    this.#site = site;
    if (timeout < 0) throw new TimeoutError(site);
    if (signal?.aborted) throw toNetError(new Interrupt("abort", signal.reason), site);
    // setTimeout fires at once for delays over 2^31 - 1 ms (24.8 days); every
    // OS gives up a connect long before that, so such a timeout is no limit.
    if (timeout > 0 && timeout <= MAX_TIMER_MS) {
      this.#timer = setTimeout(() => {
        this.#timedOut = true;
        this.#controller.abort();
      }, timeout);
    }
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Fires when the dial must end. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** A TCP connect, ended by the limit. */
  async connect(hostname: string, port: number): Promise<Deno.TcpConn> {
    try {
      // A dial with no limit passes no signal: the runtime then sets up no cancel handle.
      const signal = this.#timer === undefined && this.#caller === undefined
        ? undefined
        : this.signal;
      return await Deno.connect({ hostname, port, transport: "tcp", ...(signal && { signal }) });
    } catch (e) {
      throw this.error(e);
    }
  }

  /**
   * An op that takes no signal, ended by the limit: what it yields after
   * the limit fired is closed.
   */
  race<T extends { close(): void }>(op: Promise<T>): Promise<T> {
    const signal = this.signal;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        op.then((late) => late.close(), () => {});
        reject(this.error(new Interrupt("abort", signal.reason)));
      };
      op.then((value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      }, (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(this.error(e));
      });
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** The dial's error for a failure: a timeout, the caller's abort, or the failure itself. */
  error(e: unknown): NetError {
    if (this.#timedOut) return new TimeoutError({ ...this.#site, cause: e });
    const caller = this.#caller;
    if (caller?.aborted) return toNetError(new Interrupt("abort", caller.reason), this.#site);
    return toNetError(e, this.#site);
  }

  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
    this.#caller?.removeEventListener("abort", this.#onAbort);
  }
}
