/**
 * UnixConn: a {@linkcode Conn} over a unix socket.
 *
 * @module
 */

import { Conn } from "./conn.ts";

/**
 * UnixConn is a {@linkcode Conn} over a unix socket, Go's `net.UnixConn`,
 * as {@linkcode dial} and {@linkcode listen} give it for a
 * `{ transport: "unix", path }` address: the same contract (deadlines,
 * whole writes, true counts, close, streams), with unix addresses, and
 * without TCP options or TLS.
 *
 * @example Echo over a unix socket
 * ```ts
 * import { dial, listen, UnixConn } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const path = `${await Deno.makeTempDir()}/echo.sock`;
 * await using ln = listen({ transport: "unix", path });
 * await using client = await dial({ transport: "unix", path });
 * await using server = await ln.accept();
 * assert.ok(client instanceof UnixConn);
 * assert.equal(String(client.remoteAddr), path);
 * await client.write(new Uint8Array([1, 2, 3]));
 * assert.equal(await server.read(new Uint8Array(8)), 3);
 * ```
 */
export class UnixConn extends Conn {
  /**
   * Wraps a `Deno.UnixConn`.
   *
   * @param conn The connection, from `Deno.connect` or a unix listener's `accept`.
   * @throws {TypeError} If `conn` is not a Deno stream conn.
   */
  constructor(conn: Deno.UnixConn) {
    super(conn);
  }

  /** The local address; it prints as its path (`""` for an unnamed end). */
  override get localAddr(): Deno.UnixAddr {
    return super.localAddr as Deno.UnixAddr;
  }

  /** The remote address; it prints as its path (`""` for an unnamed end). */
  override get remoteAddr(): Deno.UnixAddr {
    return super.remoteAddr as Deno.UnixAddr;
  }
}
