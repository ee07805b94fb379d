/**
 * The TLS streams a TlsConn wraps, one per path: Deno's own TLS conn
 * (`Deno.connectTls`, `Deno.startTls`, `Deno.listenTls`), or `node:tls`
 * over a plain TCP conn (node_server.ts) where Deno has no API: client
 * certificates on a listener, server-side STARTTLS, SNI and certificate
 * rotation. Both are a `RawStream` with a `handshake()` that tells the
 * negotiated state. Internal.
 *
 * @module
 */

import type { RawStream } from "../_io/core.ts";

/** What a TLS handshake negotiated, Go's `tls.ConnectionState`. */
export interface TlsState {
  /** The TLS version, `"TLSv1.3"` or `"TLSv1.2"`; null where the runtime does not tell it. */
  version: string | null;
  /** The cipher suite's IANA name (`"TLS_AES_128_GCM_SHA256"`); null where the runtime does not tell it. */
  cipherSuite: string | null;
  /** The ALPN protocol the two sides agreed on, or null. */
  alpnProtocol: string | null;
  /** The server name: the one the client asked for (server) or verified (client); null when none. */
  serverName: string | null;
  /** The peer's certificates (PEM), leaf first; empty when it sent none or the runtime does not tell them. */
  peerCertificates: string[];
  /** Whether the peer's certificate chain was verified against trusted authorities. */
  verified: boolean;
}

/** A TLS stream: a RawStream whose handshake tells the negotiated state. */
export interface TlsStream extends RawStream {
  /**
   * Resolves with the state once the handshake has completed (and the
   * peer's certificate has been verified where asked); rejects with the
   * runtime's error when it failed.
   */
  handshake(): Promise<TlsState>;
  /** The state once the handshake has completed, where the stream knows it without waiting. */
  readonly state?: TlsState | null;
  /** Where closing takes a while (sending `close_notify`): resolves once the socket is closed. */
  readonly released?: Promise<void>;
}

/** Which side of a Deno TLS conn this is, and what it verified. */
export interface DenoTlsSide {
  /** The name the client verified, or null on the server side. */
  serverName: string | null;
  /** True on the client side: Deno always verifies the server. */
  verified: boolean;
}

/**
 * A `Deno.TlsConn` as a TlsStream. Deno's handshake tells only the ALPN
 * protocol: the version, the cipher suite and the peer's certificates stay
 * null and empty. A write after `closeWrite` fails as Deno's TCP conns do,
 * with BrokenPipe (Deno says NotConnected).
 */
export class DenoTlsStream implements TlsStream {
  readonly #conn: Deno.TlsConn;
  readonly #side: DenoTlsSide;
  readonly localAddr: Deno.Addr;
  readonly remoteAddr: Deno.Addr;

  constructor(conn: Deno.TlsConn, side: DenoTlsSide) {
    this.#conn = conn;
    this.#side = side;
    this.localAddr = conn.localAddr;
    this.remoteAddr = conn.remoteAddr;
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.#conn.read(p);
  }

  write(p: Uint8Array): Promise<number> {
    return this.#conn.write(p).catch(brokenPipe);
  }

  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  close(): void {
    this.#conn.close();
  }

  async handshake(): Promise<TlsState> {
    const info = await this.#conn.handshake();
    return {
      version: null,
      cipherSuite: null,
      alpnProtocol: info.alpnProtocol ?? null,
      serverName: this.#side.serverName,
      peerCertificates: [],
      verified: this.#side.verified,
    };
  }
}

/** Deno's error for a write on a TLS conn whose sending side is shut, as TCP says it. */
function brokenPipe(e: unknown): never {
  if (e instanceof Deno.errors.NotConnected) {
    throw new Deno.errors.BrokenPipe("broken pipe: the sending side was shut", { cause: e });
  }
  throw e;
}
