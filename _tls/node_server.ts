/**
 * The server side of TLS over a plain TCP conn, through Deno's built-in
 * `node:tls` (node_stream.ts): what Deno's own API cannot do (client
 * certificates, a server-side upgrade, SNI, rotation). `node:tls` does not
 * verify a client's chain on this path (`authorized` is false whatever was
 * sent), so the chain is verified here (verify.ts) before the handshake
 * counts as done: until then no byte is read or written by the caller.
 * Internal.
 *
 * @module
 */

import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { X509Certificate } from "node:crypto";
import type { CertifiedKey, ClientAuth } from "./options.ts";
import type { TlsState } from "./stream.ts";
import { chainError } from "./verify.ts";
import { NodeTlsStream, peerChain } from "./node_stream.ts";

/** The certificates a server serves: a default, and one per SNI name. */
export interface ServerCertificates extends CertifiedKey {
  /** Server names (lower case; `*.example` is a wildcard) to their certificate. */
  sni?: Record<string, CertifiedKey>;
}

/** Everything a server-side handshake needs, shared by a listener's conns. */
export interface ServerTlsConfig {
  certificates: ServerCertificates;
  clientAuth: ClientAuth;
  /** Authorities trusted for client certificates. */
  clientCas: string[];
  alpnProtocols: string[] | undefined;
}

/**
 * A server TLS configuration whose certificates can be swapped: new
 * handshakes take the current ones, open conns keep theirs (Go's
 * `GetCertificate`).
 */
export class ServerTls {
  #config: ServerTlsConfig;
  #contexts: { main: SecureContext; sni: Map<string, SecureContext> };
  readonly #roots: X509Certificate[];

  constructor(config: ServerTlsConfig) {
    this.#config = config;
    this.#contexts = contextsOf(config.certificates);
    this.#roots = config.clientCas.flatMap(splitPem).map((pem) => new X509Certificate(pem));
  }

  /** Serves `certificates` from the next handshake on. */
  setCertificates(certificates: ServerCertificates): void {
    this.#contexts = contextsOf(certificates); // throws before anything changes
    this.#config = { ...this.#config, certificates };
  }

  /** Starts the server side of a handshake over `tcp`, which the stream owns from now on. */
  serve(tcp: Deno.TcpConn): NodeTlsStream {
    const config = this.#config;
    const contexts = this.#contexts;
    const roots = this.#roots;
    return new NodeTlsStream(
      tcp,
      (duplex) =>
        new TLSSocket(duplex, {
          isServer: true,
          secureContext: contexts.main,
          requestCert: config.clientAuth !== "none",
          rejectUnauthorized: false, // verified in stateOf: node:tls does not, on this path
          ...(config.alpnProtocols === undefined ? {} : { ALPNProtocols: config.alpnProtocols }),
          ...(contexts.sni.size === 0 ? {} : {
            SNICallback: (name: string, cb: (e: Error | null, ctx?: SecureContext) => void) =>
              cb(null, contextFor(contexts, name)),
          }),
        }),
      "secure",
      (socket) => stateOf(socket, config.clientAuth, roots),
    );
  }
}

/** The secure contexts of a set of certificates. */
function contextsOf(
  certificates: ServerCertificates,
): { main: SecureContext; sni: Map<string, SecureContext> } {
  const main = createSecureContext({ cert: certificates.cert, key: certificates.key });
  const sni = new Map<string, SecureContext>();
  for (const [name, pair] of Object.entries(certificates.sni ?? {})) {
    sni.set(name, createSecureContext({ cert: pair.cert, key: pair.key }));
  }
  return { main, sni };
}

/** The context for a server name: exact match, then a wildcard one label up. */
function contextFor(
  contexts: { main: SecureContext; sni: Map<string, SecureContext> },
  name: string,
): SecureContext {
  const lower = name.toLowerCase().replace(/\.$/, "");
  const exact = contexts.sni.get(lower);
  if (exact !== undefined) return exact;
  const dot = lower.indexOf(".");
  return (dot > 0 ? contexts.sni.get(`*${lower.slice(dot)}`) : undefined) ?? contexts.main;
}

/** The PEM certificate blocks of a text. */
function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g) ?? [];
}

/** The negotiated state of a secure socket, or why its client certificate fails `mode`. */
function stateOf(
  socket: TLSSocket,
  mode: ClientAuth,
  roots: readonly X509Certificate[],
): TlsState | string {
  const chain = peerChain(socket);
  let verified = false;
  if (chain.length === 0) {
    if (mode === "require" || mode === "require-and-verify") {
      return "client certificate: none was sent";
    }
  } else if (mode === "verify-if-given" || mode === "require-and-verify") {
    const why = chainError(chain, roots);
    if (why !== undefined) return `client certificate: ${why}`;
    verified = true;
  }
  const cipher = socket.getCipher() as { standardName?: string; name?: string } | undefined;
  const servername = (socket as { servername?: unknown }).servername;
  const alpn = socket.alpnProtocol;
  return {
    version: socket.getProtocol() ?? null,
    cipherSuite: cipher?.standardName ?? cipher?.name ?? null,
    alpnProtocol: typeof alpn === "string" && alpn !== "" ? alpn : null,
    serverName: typeof servername === "string" && servername !== "" ? servername : null,
    peerCertificates: chain.map((c) => c.toString()),
    verified,
  };
}
