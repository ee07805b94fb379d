/**
 * Kernel-first I/O for a TCP conn, as Go's poller does it: try `send` or
 * `recv` on the socket right away, on the caller's own buffer, and wait (on
 * Deno's runtime ops) only when the kernel says it would block. The kernel
 * copies at once, so nothing can strand and no copy is needed. Linux only
 * (its constants and errno values are Linux's, as in its headers); needs `--allow-ffi`.
 * Internal: the conn core uses it.
 *
 * @module
 */

import { errnoValue, type Libc, libc, libcAvailable } from "./libc.ts";
import { type ConnAddrs, findConnFd } from "./fd.ts";

/** What `send` and `recv` return when the kernel would block (EAGAIN). */
export const AGAIN = -1;

const F_GETFL = 3;
const O_NONBLOCK = 0o4000;
const MSG_NOSIGNAL = 0x4000; // a write to a shut socket is EPIPE, never SIGPIPE
const MSG_PEEK = 0x2;
const MSG_DONTWAIT = 0x40;
const PEEK = new Uint8Array(1);
const EINTR = 4;
const EAGAIN = 11;
/** A sockaddr of family AF_UNSPEC (0): "disconnect". */
const UNSPEC = new Uint8Array(16);

/** errno values Linux gives a socket, as the runtime's error classes (so errors map as the runtime's do). */
const ERRORS: Record<number, new (message: string) => Error> = {
  9: Deno.errors.BadResource, // EBADF
  32: Deno.errors.BrokenPipe, // EPIPE
  103: Deno.errors.ConnectionAborted, // ECONNABORTED
  104: Deno.errors.ConnectionReset, // ECONNRESET
  107: Deno.errors.NotConnected, // ENOTCONN
  110: Deno.errors.TimedOut, // ETIMEDOUT
  113: Deno.errors.NetworkUnreachable, // EHOSTUNREACH
};

/**
 * KernelSocket sends and receives on one TCP socket's fd without waiting.
 * It holds the fd only while the conn that made it is open: {@linkcode
 * KernelSocket.forget} drops it on close, so a reused fd number never
 * receives a byte.
 */
export class KernelSocket {
  #lib: Libc;
  #fd: number;

  private constructor(lib: Libc, fd: number) {
    this.#lib = lib;
    this.#fd = fd;
  }

  /**
   * The kernel-first socket of a TCP conn, or null where it cannot be used
   * with certainty: off Linux, without `--allow-ffi`, when no open socket has
   * the conn's addresses, or when its fd is not non-blocking.
   */
  static open(conn: ConnAddrs): KernelSocket | null {
    if (Deno.build.os !== "linux" || !libcAvailable()) return null;
    const lib = libc("kernel-first I/O");
    let fd: number;
    try {
      fd = findConnFd(lib, conn);
    } catch {
      return null;
    }
    const flags = lib.sym.fcntl(fd, F_GETFL, 0);
    if (flags < 0 || (flags & O_NONBLOCK) === 0) return null;
    return new KernelSocket(lib, fd);
  }

  /**
   * Sends what the kernel takes of `p` now.
   *
   * @returns The bytes sent (0 < n <= p.length), or {@linkcode AGAIN}.
   * @throws {Deno.errors.BrokenPipe} and the other runtime error classes, by errno.
   */
  send(p: Uint8Array): number {
    for (;;) {
      // A BigInt length keeps V8's fast call; a number for a usize takes the slow path.
      const n = Number(this.#lib.sym.send(this.#fd, p, BigInt(p.length), MSG_NOSIGNAL));
      if (n >= 0) return n;
      const errno = errnoValue(this.#lib);
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return AGAIN;
      throw this.#error(errno, "send");
    }
  }

  /**
   * Receives what the kernel has now, up to `p.length` bytes (p not empty).
   *
   * @returns The bytes received (n > 0), `null` at EOF, or {@linkcode AGAIN}.
   * @throws {Deno.errors.ConnectionReset} and the other runtime error classes, by errno.
   */
  recv(p: Uint8Array): number | null {
    for (;;) {
      const n = Number(this.#lib.sym.recv(this.#fd, p, BigInt(p.length), 0));
      if (n > 0) return n;
      if (n === 0) return null;
      const errno = errnoValue(this.#lib);
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return AGAIN;
      throw this.#error(errno, "recv");
    }
  }

  /**
   * Aborts the connection at once, as `close` with linger 0 does in Go: on
   * Linux, `connect(fd, AF_UNSPEC)` makes the kernel send RST and drop unsent
   * data (Deno's own close would send FIN first).
   *
   * @returns True if the kernel aborted the connection.
   */
  abort(): boolean {
    return this.#fd >= 0 && this.#lib.sym.connect(this.#fd, UNSPEC, UNSPEC.length) === 0;
  }

  /**
   * True when received bytes wait unread in the kernel. Linux's close(2)
   * then resets the connection (RST, no FIN), as Go's Close does.
   */
  hasUnread(): boolean {
    return this.#fd >= 0 &&
      Number(this.#lib.sym.recv(this.#fd, PEEK, 1n, MSG_PEEK | MSG_DONTWAIT)) > 0;
  }

  /** The fd, for socket options set while the conn is open; -1 once forgotten. */
  get fd(): number {
    return this.#fd;
  }

  /** The conn closes: the fd is never touched again. */
  forget(): void {
    this.#fd = -1;
  }

  #error(errno: number, call: string): Error {
    const type = ERRORS[errno] ?? Error;
    return new type(`${call}: errno ${errno}`);
  }
}

/**
 * Shuts a TCP socket down both ways (Linux, `--allow-ffi`), so the peer
 * reads EOF and the kernel can free it once its owner closes: for a TLS conn
 * closed before its handshake finished, which Deno's close leaves open until
 * the peer closes. Does nothing where it cannot be done.
 */
export function shutdownSocket(conn: ConnAddrs): void {
  if (Deno.build.os !== "linux" || !libcAvailable()) return;
  const lib = libc("shutdown");
  try {
    lib.sym.shutdown(findConnFd(lib, conn), SHUT_RDWR);
  } catch {
    // No open socket has the conn's addresses: nothing to shut.
  }
}

const SHUT_RDWR = 2;
