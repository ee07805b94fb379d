/**
 * The client side of TLS over a plain TCP conn, through Deno's built-in
 * `node:tls` (node_stream.ts): for what `Deno.connectTls` and
 * `Deno.startTls` cannot do together, a client certificate with a name to
 * verify other than the host dialled, or on an upgraded conn. `node:tls`
 * verifies the server's chain and name itself on this path (measured: an
 * unknown authority, a wrong name and an expired certificate each fail the
 * handshake), with `rejectUnauthorized` on. Internal.
 *
 * @module
 */

import { connect, type TLSSocket } from "node:tls";
import { isIP } from "node:net";
import type { TlsState } from "./stream.ts";
import { NodeTlsStream, peerChain } from "./node_stream.ts";

/** What the client side of a handshake takes. */
export interface ClientTlsConfig {
  /** The name to verify the server's certificate for, and to send as SNI (a DNS name only). */
  serverName: string;
  /** PEM certificates of the authorities to trust; the system's when left out. */
  caCerts: string[] | undefined;
  /** The client certificate (PEM) and its key, or none. */
  cert: string | undefined;
  key: string | undefined;
  alpnProtocols: string[] | undefined;
}

/** Starts the client side of a handshake over `tcp`, which the stream owns from now on. */
export function clientTls(tcp: Deno.TcpConn, config: ClientTlsConfig): NodeTlsStream {
  const name = config.serverName;
  return new NodeTlsStream(
    tcp,
    (duplex) =>
      connect({
        socket: duplex,
        host: name, // what the certificate is verified for, whatever the socket's address
        ...(isIP(name) === 0 ? { servername: name } : {}),
        rejectUnauthorized: true,
        ...(config.caCerts === undefined ? {} : { ca: config.caCerts }),
        ...(config.cert === undefined ? {} : { cert: config.cert, key: config.key }),
        ...(config.alpnProtocols === undefined ? {} : { ALPNProtocols: config.alpnProtocols }),
      }),
    "secureConnect",
    (socket) => stateOf(socket, name),
  );
}

/** The negotiated state of a client socket that verified its server. */
function stateOf(socket: TLSSocket, serverName: string): TlsState | string {
  if (!socket.authorized) {
    return `server certificate: ${socket.authorizationError ?? "not verified"}`;
  }
  const cipher = socket.getCipher() as { standardName?: string; name?: string } | undefined;
  const alpn = socket.alpnProtocol;
  return {
    version: socket.getProtocol() ?? null,
    cipherSuite: cipher?.standardName ?? cipher?.name ?? null,
    alpnProtocol: typeof alpn === "string" && alpn !== "" ? alpn : null,
    serverName,
    peerCertificates: peerChain(socket).map((c) => c.toString()),
    verified: true,
  };
}
