/**
 * Reset: ending a conn with a TCP RST instead of a FIN. A netconn `Conn`
 * closed with linger 0 resets at once, as Go's does, where its kernel-first
 * socket works (Linux with `--allow-ffi`: the kernel aborts the connection,
 * sends RST and drops unsent data). Without FFI, or off Linux, the conn is
 * just closed: Deno shuts the sending side (FIN) first, so the peer reads
 * EOF and its later writes fail.
 *
 * @module
 */

import { type Conn, TcpConn, TlsConn } from "../mod.ts";
import { sockoptSupported } from "../sockopt/mod.ts";

/** Whether {@linkcode reset} sends a real RST here: Linux with `--allow-ffi`. */
export function resetSupported(): boolean {
  return Deno.build.os === "linux" && sockoptSupported();
}

/**
 * Ends `conn` with a RST when {@linkcode resetSupported}, else just closes it.
 *
 * @returns Whether a RST was sent.
 */
export function reset(conn: Conn): boolean {
  let sent = false;
  if (resetSupported() && (conn instanceof TcpConn || conn instanceof TlsConn)) {
    try {
      conn.setLinger(0);
      sent = true;
    } catch {
      // Closed already, or the socket is gone: closing is all there is to do.
    }
  }
  conn.close();
  return sent;
}
