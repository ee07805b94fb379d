/**
 * Connected pairs on this machine for the tests, the probe and the bench:
 * netconn's over TCP, TLS, a unix socket and `pipe()`, and raw Deno's over
 * TCP, TLS and a unix socket. Each pair is a conn dialed, the conn its
 * listener accepted, and the listener; disposing it closes all three and, for
 * a unix socket, removes its temp dir. TLS pairs use the test certificates
 * (`server` for "localhost", signed by `ca`). Private to the repository.
 *
 * @module
 */

import {
  type Address,
  dial,
  type DialOptions,
  dialTls,
  listen,
  type Listener,
  type ListenOptions,
  listenTls,
  pipe,
  type PipeConn,
  type TcpConn,
  type TlsConn,
  type UnixConn,
} from "../mod.ts";
import { certifiedKey, certText } from "./certs.ts";

/** The loopback host every pair listens on. */
export const LOOPBACK = "127.0.0.1";

/** Two connected ends; disposing closes both and what they came from. */
export interface Ends<C> extends AsyncDisposable {
  /** The dialed side. */
  client: C;
  /** The accepted side. */
  server: C;
}

/** A listener, a conn dialed to it and the conn it accepted. */
export interface Pair<C = TcpConn, L = Listener<TcpConn>> extends Ends<C> {
  ln: L;
}

/** Options for {@linkcode pair}. */
export interface PairOptions {
  /** Where to listen. @default {"127.0.0.1:0"} */
  address?: Address;
  /** Where to dial. @default {the listener's address} */
  dialAddress?: Address;
  listen?: ListenOptions;
  dial?: DialOptions;
  /** Ends a pending accept; give the dial its own in `dial.signal`. */
  signal?: AbortSignal;
}

/**
 * Listens on TCP, dials and accepts. Disposing closes all three and waits
 * until the runtime has settled what they had in flight.
 */
export async function pair(options: PairOptions = {}): Promise<Pair> {
  const ln = listen(options.address ?? `${LOOPBACK}:0`, options.listen);
  const target = options.dialAddress ?? { hostname: ln.addr.hostname, port: ln.addr.port };
  return await connect(ln, () => dial(target, options.dial), options.signal);
}

/** Options for {@linkcode tlsPair} and {@linkcode unixPair}. */
export interface TransportPairOptions {
  listen?: ListenOptions;
  dial?: DialOptions;
  /** Ends a pending accept; give the dial its own in `dial.signal`. */
  signal?: AbortSignal;
}

/**
 * {@linkcode pair} over TLS: `listenTls` with the `server` certificate, and
 * `dialTls` verifying "localhost" against `ca`. The handshakes run on first
 * use (or `handshake()`).
 */
export async function tlsPair(
  options: TransportPairOptions = {},
): Promise<Pair<TlsConn, Listener<TlsConn>>> {
  const caCerts = [certText("ca.pem")];
  const ln = listenTls(`${LOOPBACK}:0`, { ...certifiedKey("server"), ...options.listen });
  return await connect(
    ln,
    () => dialTls(ln.addr, { hostname: "localhost", caCerts, ...options.dial }),
    options.signal,
  );
}

/** {@linkcode pair} over a unix socket in a temp dir, which disposing removes. */
export async function unixPair(
  options: TransportPairOptions = {},
): Promise<Pair<UnixConn, Listener<UnixConn>>> {
  const dir = await Deno.makeTempDir({ prefix: "netconn-" });
  const remove = () => Deno.remove(dir, { recursive: true });
  const path = `${dir}/conn.sock`;
  let ln: Listener<UnixConn>;
  try {
    ln = listen({ transport: "unix", path }, options.listen);
  } catch (e) {
    await remove();
    throw e;
  }
  return await connect(
    ln,
    () => dial({ transport: "unix", path }, options.dial),
    options.signal,
    remove,
  );
}

/** The two ends of a `pipe()`, as {@linkcode Ends}. */
export function pipePair(): Ends<PipeConn> {
  const [client, server] = pipe();
  return {
    client,
    server,
    async [Symbol.asyncDispose]() {
      await client[Symbol.asyncDispose]();
      await server[Symbol.asyncDispose]();
    },
  };
}

/** Dials and accepts on `ln`; if either fails, closes what was opened and throws. */
async function connect<C extends AsyncDisposable, L extends Acceptor<C>>(
  ln: L,
  dialed: () => Promise<C>,
  signal?: AbortSignal,
  cleanup: () => Promise<void> = () => Promise.resolve(),
): Promise<Pair<C, L>> {
  let client: C | undefined;
  try {
    const accepted = ln.accept(signal === undefined ? {} : { signal });
    // Both settle; if one fails, the other's conn must still be closed.
    const [c, s] = await Promise.allSettled([dialed(), accepted]);
    if (c.status === "fulfilled") client = c.value;
    if (s.status === "rejected" || c.status === "rejected") {
      if (s.status === "fulfilled") await s.value[Symbol.asyncDispose]();
      throw c.status === "rejected" ? c.reason : (s as PromiseRejectedResult).reason;
    }
    const server = s.value;
    const cl = client!;
    return {
      ln,
      client: cl,
      server,
      async [Symbol.asyncDispose]() {
        await cl[Symbol.asyncDispose]();
        await server[Symbol.asyncDispose]();
        await ln[Symbol.asyncDispose]();
        await cleanup();
      },
    };
  } catch (e) {
    await client?.[Symbol.asyncDispose]();
    await ln[Symbol.asyncDispose]();
    await cleanup();
    throw e;
  }
}

/** What {@linkcode connect} needs of a listener. */
interface Acceptor<C> extends AsyncDisposable {
  accept(options: { signal?: AbortSignal }): Promise<C>;
}

/** A raw Deno listener, a conn dialed to it and the conn it accepted. */
export interface RawPair<C = Deno.TcpConn, L = Deno.TcpListener> extends Disposable {
  ln: L;
  /** The dialed side. */
  client: C;
  /** The accepted side. */
  server: C;
}

/** Options for {@linkcode rawPair}. */
export interface RawPairOptions {
  /** Where to listen. @default {"127.0.0.1"} */
  hostname?: string;
  /** Where to dial. @default {hostname} */
  dialHost?: string;
  /** Called with the listener before the dial, e.g. to set what accepted conns inherit. */
  onListen?: (ln: Deno.TcpListener) => void;
  /** Sets NoDelay on both ends, as netconn's conns have it by default. @default {false} */
  noDelay?: boolean;
}

/**
 * {@linkcode pair} for raw `Deno.TcpConn`s. Disposing closes all three,
 * skipping what was closed already.
 */
export async function rawPair(options: RawPairOptions = {}): Promise<RawPair> {
  const { hostname = LOOPBACK, dialHost = hostname } = options;
  const ln = Deno.listen({ hostname, port: 0, transport: "tcp" });
  const p = await rawConnect(ln, () => {
    options.onListen?.(ln);
    return Deno.connect({ hostname: dialHost, port: ln.addr.port, transport: "tcp" });
  });
  if (options.noDelay) {
    p.client.setNoDelay(true);
    p.server.setNoDelay(true);
  }
  return p;
}

/** {@linkcode rawPair} over TLS, as {@linkcode tlsPair}; both handshakes done. */
export async function rawTlsPair(): Promise<RawPair<Deno.TlsConn, Deno.TlsListener>> {
  const caCerts = [certText("ca.pem")];
  const ln = Deno.listenTls({ hostname: LOOPBACK, port: 0, ...certifiedKey("server") });
  const p = await rawConnect(
    ln,
    () => Deno.connectTls({ hostname: "localhost", port: ln.addr.port, caCerts }),
  );
  try {
    await Promise.all([p.client.handshake(), p.server.handshake()]);
  } catch (e) {
    p[Symbol.dispose]();
    throw e;
  }
  return p;
}

/** {@linkcode rawPair} over a unix socket in a temp dir, which disposing removes. */
export async function rawUnixPair(): Promise<RawPair<Deno.UnixConn, Deno.UnixListener>> {
  const dir = Deno.makeTempDirSync({ prefix: "netconn-" });
  const remove = () => Deno.removeSync(dir, { recursive: true });
  const path = `${dir}/conn.sock`;
  let ln: Deno.UnixListener;
  try {
    ln = Deno.listen({ transport: "unix", path });
  } catch (e) {
    remove();
    throw e;
  }
  return await rawConnect(ln, () => Deno.connect({ transport: "unix", path }), remove);
}

/** Dials and accepts on a raw listener; on failure closes the listener and throws. */
async function rawConnect<C extends Deno.Conn, L extends Deno.Listener<C>>(
  ln: L,
  dialed: () => Promise<C>,
  cleanup: () => void = () => {},
): Promise<RawPair<C, L>> {
  try {
    const [client, server] = await Promise.all([dialed(), ln.accept()]);
    return {
      ln,
      client,
      server,
      [Symbol.dispose]() {
        closeAll(client, server, ln);
        cleanup();
      },
    };
  } catch (e) {
    closeAll(ln);
    cleanup();
    throw e;
  }
}

/** Closes each, skipping what was closed already. */
function closeAll(...all: { close(): void }[]): void {
  for (const c of all) {
    try {
      c.close();
    } catch {
      // Closed already.
    }
  }
}
