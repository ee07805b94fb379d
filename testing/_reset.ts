/**
 * Reset: ending a conn with a TCP RST instead of a FIN, as near as Deno
 * allows.
 *
 * Deno's `close()` shuts the sending side (FIN) before it closes the socket,
 * so even with `setLinger(0)` a peer that has read everything sees EOF, not
 * a reset. On Linux, `connect(fd, AF_UNSPEC)` on a connected TCP socket
 * aborts it: the kernel sends RST, drops unsent data and moves the socket to
 * CLOSE, after which Deno's own shutdown and close do nothing more. That
 * needs the fd (found through `connFd`) and `connect` from libc, hence
 * `--allow-ffi`. Without it, or off Linux, the conn is closed with linger 0:
 * the peer reads EOF (or a reset if data was still unsent), and its later
 * writes fail.
 *
 * @module
 */

import type { Conn } from "../mod.ts";
import { connFd, sockoptSupported } from "../sockopt/mod.ts";

const SYMBOLS = { connect: { parameters: ["i32", "buffer", "u32"], result: "i32" } } as const;
/** A sockaddr whose family is AF_UNSPEC (0): "disconnect". */
const UNSPEC = new Uint8Array(16);

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined; // null: cannot load

function connect(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"]["connect"] | null {
  if (lib === undefined) {
    lib = null;
    if (Deno.build.os === "linux" && sockoptSupported()) {
      try {
        lib = Deno.dlopen("libc.so.6", SYMBOLS);
      } catch {
        // No libc to load: resets fall back to close.
      }
    }
  }
  return lib?.symbols.connect ?? null;
}

/** Whether {@linkcode reset} sends a real RST here: Linux with `--allow-ffi`. */
export function resetSupported(): boolean {
  return connect() !== null;
}

/**
 * Ends `conn` with a RST when {@linkcode resetSupported}, else closes it with
 * linger 0 when socket options work, else just closes it.
 *
 * @returns Whether a RST was sent.
 */
export function reset(conn: Conn): boolean {
  let sent = false;
  const disconnect = connect();
  try {
    if (disconnect !== null) sent = disconnect(connFd(conn), UNSPEC, UNSPEC.length) === 0;
    else if (sockoptSupported()) conn.setLinger(0);
  } catch {
    // Already closed or reset by the peer: closing is all that is left.
  }
  conn.close();
  return sent;
}
