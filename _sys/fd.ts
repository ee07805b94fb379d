/**
 * Finding the file descriptor behind a Deno conn or listener, which Deno does
 * not expose. A TCP socket is named by its addresses: a connected one by its
 * (local, remote) pair, unique among open sockets, a listening one by its
 * local address. The index remembers where each name was last seen and
 * guesses where a new socket landed, so that a lookup costs a few syscalls,
 * not a scan of every open fd:
 *
 * 1. the fd this name was last found at, if it still holds the same socket;
 * 2. fds that were freed (told by {@linkcode FdIndex.release}, or seen empty
 *    by a scan), lowest first: the kernel hands out the lowest free fd;
 * 3. the fds just above the highest one seen;
 * 4. on a miss, one scan of every open fd, which re-indexes them all.
 *
 * Every answer is verified against the socket's addresses right before it is
 * returned, so a stale entry (its socket closed, its fd reused) is never used.
 *
 * @module
 */

import { ClosedError } from "../errors.ts";
import { joinHostPort } from "../address.ts";
import {
  fdLimit,
  getInt,
  type Libc,
  libc,
  NOT_IP,
  openFds,
  POLL_CHUNK,
  sockAddrText,
} from "./libc.ts";
import { type ConnAddrs, connKey, knownKey, type ListenerAddr, listenerKey } from "./name.ts";

export type { ConnAddrs, ListenerAddr };

const FREE = 0; // no fd there (EBADF)
const OTHER = 1; // an fd that is not a TCP socket we can name

/** What an fd holds: FREE, OTHER, or the name of its TCP socket. */
export function socketAt(lib: Libc, fd: number): string | typeof FREE | typeof OTHER {
  const local = sockAddrText(lib, fd, "getsockname");
  if (typeof local === "number") return local === lib.c.EBADF ? FREE : OTHER;
  const { SOL_SOCKET, SO_TYPE, SO_ACCEPTCONN, SOCK_STREAM } = lib.c;
  if (intOption(lib, fd, SOL_SOCKET, SO_TYPE) !== SOCK_STREAM) return OTHER;
  const peer = sockAddrText(lib, fd, "getpeername");
  if (typeof peer === "string") return `${local} ${peer}`;
  if (peer === NOT_IP) return OTHER;
  if (intOption(lib, fd, SOL_SOCKET, SO_ACCEPTCONN) === 1) return `listen ${local}`;
  return OTHER; // bound, not connected, not listening (or reset by its peer)
}

function intOption(lib: Libc, fd: number, level: number, name: number): number {
  try {
    return getInt(lib, fd, level, name);
  } catch {
    return -1;
  }
}

/** Counters for tests and benchmarks: how much work lookups did. */
export interface FdIndexStats {
  /** Lookups answered. */
  lookups: number;
  /** Single fds examined outside full scans. */
  probes: number;
  /** Full scans of every open fd. */
  scans: number;
}

/** How many fds above the highest seen to try before scanning. */
const WINDOW = 16;
/** How many of the lowest freed fds to try before scanning. */
const FREE_TRIES = 16;
/** Freed fds remembered at most; the kernel reuses the lowest first. */
const FREE_CAP = 4096;
/** A scan stops this far past the highest open fd it has met. */
const SCAN_SLACK = 1 << 16;

/** Where each TCP socket of this process was last seen. See the module doc. */
export class FdIndex {
  #fdOf = new Map<string, number>(); // socket name -> fd, as last seen
  #nameAt = new Map<number, string>(); // fd -> socket name, as last seen
  #free: number[] = []; // ascending fds believed free, at most FREE_CAP
  #released = new Map<number, string>(); // freed fd -> name of the socket released there
  #high = -1; // highest fd seen open
  #stats: FdIndexStats = { lookups: 0, probes: 0, scans: 0 };

  /** The work done so far. */
  get stats(): FdIndexStats {
    return { ...this.#stats };
  }

  /** The fd of the socket named `name`, or undefined if none is open. */
  find(lib: Libc, name: string, limit: () => number): number | undefined {
    this.#stats.lookups++;
    const cached = this.#fdOf.get(name);
    if (cached !== undefined && this.#probe(lib, cached) === name) return cached;
    for (const fd of this.#candidates()) {
      if (this.#probe(lib, fd) === name) return fd;
    }
    return this.#scan(lib, name, limit());
  }

  /** Says the socket named `name` was closed: its fd is likely reused next. */
  release(name: string): void {
    const fd = this.#fdOf.get(name);
    if (fd === undefined) return;
    this.#fdOf.delete(name);
    this.#nameAt.delete(fd);
    this.#released.set(fd, name);
    this.#addFree(fd);
  }

  *#candidates(): Generator<number> {
    for (const fd of this.#free.slice(0, FREE_TRIES)) yield fd;
    const top = this.#high;
    for (let fd = top + 1; fd <= top + WINDOW; fd++) yield fd;
  }

  // Examines one fd and records what it holds.
  #probe(lib: Libc, fd: number): string | undefined {
    this.#stats.probes++;
    return this.#record(fd, socketAt(lib, fd));
  }

  #record(fd: number, found: string | typeof FREE | typeof OTHER): string | undefined {
    const old = this.#nameAt.get(fd);
    if (old !== undefined && old !== found) {
      this.#nameAt.delete(fd);
      if (this.#fdOf.get(old) === fd) this.#fdOf.delete(old);
    }
    if (found === FREE) {
      this.#addFree(fd);
      return undefined;
    }
    if (fd > this.#high) this.#high = fd;
    // Still the released socket (Deno closes it a moment later): stay a candidate.
    if (this.#released.get(fd) !== found) this.#removeFree(fd);
    if (found === OTHER) return undefined;
    this.#nameAt.set(fd, found);
    this.#fdOf.set(found, fd);
    return found;
  }

  #scan(lib: Libc, name: string, limit: number): number | undefined {
    this.#stats.scans++;
    this.#free = [];
    this.#released.clear();
    let match: number | undefined;
    let highest = -1;
    let expect = 0; // the next fd not yet recorded
    const known = this.#high;
    for (
      let from = 0;
      from < limit && from <= Math.max(highest, known) + SCAN_SLACK;
      from += POLL_CHUNK
    ) {
      const open = openFds(lib, from, Math.min(POLL_CHUNK, limit - from));
      for (const fd of open) {
        for (; expect < fd; expect++) this.#record(expect, FREE);
        expect = fd + 1;
        highest = fd;
        if (this.#record(fd, socketAt(lib, fd)) === name) match = fd;
      }
    }
    this.#high = highest;
    return match;
  }

  // Where fd is, or would go, in the ascending free list.
  #freeSlot(fd: number): number {
    const free = this.#free;
    let lo = 0;
    let hi = free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (free[mid]! < fd) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #addFree(fd: number): void {
    const i = this.#freeSlot(fd);
    if (this.#free[i] === fd || i >= FREE_CAP) return;
    this.#free.splice(i, 0, fd);
    if (this.#free.length > FREE_CAP) this.#free.pop();
  }

  #removeFree(fd: number): void {
    const i = this.#freeSlot(fd);
    if (this.#free[i] === fd) this.#free.splice(i, 1);
    this.#released.delete(fd);
  }
}

/** The one index of this process. */
export const fdIndex: FdIndex = new FdIndex();

/**
 * SocketRef names the socket an option is for: a TCP conn (looked up with
 * {@linkcode connFd} on every call), a TCP listener (with
 * {@linkcode listenerFd}), or a file descriptor the caller found itself.
 */
export type SocketRef = number | ConnAddrs | ListenerAddr;

/**
 * connFd returns the file descriptor of a connected TCP socket, found by
 * matching `getsockname`/`getpeername` against `conn.localAddr` and
 * `conn.remoteAddr` (IPv4 and v4-mapped IPv6 addresses compare equal).
 *
 * A lookup costs a few syscalls however many conns are open: it tries the fd
 * the conn was last found at, then fds that closed sockets freed (the kernel
 * hands out the lowest free fd), then the fds just above the highest seen;
 * only on a miss does it scan every open fd, once, indexing them all. Every
 * answer is verified against both addresses first, so a stale fd whose
 * socket closed and whose number was reused is never returned.
 *
 * The fd is the conn's for as long as the conn is open; use it at once
 * (in the same synchronous turn), and look it up again next time.
 *
 * @param conn A TCP conn, such as a `Deno.TcpConn`; only its addresses are read.
 * @returns The fd of the socket with conn's local and remote addresses.
 * @throws {NotSupportedError} Without `--allow-ffi`, or on a platform other
 * than Linux or macOS.
 * @throws {ClosedError} When no open socket has conn's addresses: the conn
 * was closed, or its peer reset it.
 * @throws {TypeError} When conn is not TCP.
 *
 * @example Find the fd of a dialed conn
 * ```ts
 * import { connFd } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ port: ln.addr.port });
 * using peer = await ln.accept();
 * const fd = connFd(conn);
 * assert.ok(Number.isInteger(fd) && fd > 2);
 * assert.notEqual(connFd(peer), fd);
 * assert.equal(connFd(conn), fd);
 * ```
 */
export function connFd(conn: ConnAddrs): number {
  return findConnFd(libc("connFd"), conn);
}

/** connFd with libc already loaded. */
export function findConnFd(lib: Libc, conn: ConnAddrs): number {
  const name = connKey(conn);
  const fd = fdIndex.find(lib, name, () => fdLimit(lib));
  if (fd !== undefined) return fd;
  throw new ClosedError({
    op: "set",
    source: formatNetAddr(conn.localAddr),
    addr: formatNetAddr(conn.remoteAddr),
    cause: new Error(`No open tcp socket has the addresses ${name}`),
  });
}

/**
 * listenerFd returns the file descriptor of a listening TCP socket, found by
 * matching `getsockname` against `listener.addr` on a socket in the
 * listening state (`SO_ACCEPTCONN`). It costs what {@linkcode connFd} costs.
 * Two listeners bound to one address with `reusePort` cannot be told apart:
 * either's fd may be returned.
 *
 * @param listener A TCP listener, such as a `Deno.TcpListener`; only its
 * address is read.
 * @returns The fd of the listening socket at `listener.addr`.
 * @throws {NotSupportedError} Without `--allow-ffi`, or on a platform other
 * than Linux or macOS.
 * @throws {ClosedError} When no socket listens at that address.
 * @throws {TypeError} When listener is not TCP.
 *
 * @example Read a listener's receive buffer size
 * ```ts
 * import { listenerFd, socketOptions } from "@netconn/netconn/sockopt";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * assert.ok(socketOptions(listenerFd(ln)).readBuffer > 0);
 * ```
 */
export function listenerFd(listener: ListenerAddr): number {
  return findListenerFd(libc("listenerFd"), listener);
}

/** listenerFd with libc already loaded. */
export function findListenerFd(lib: Libc, listener: ListenerAddr): number {
  const name = listenerKey(listener);
  const fd = fdIndex.find(lib, name, () => fdLimit(lib));
  if (fd !== undefined) return fd;
  throw new ClosedError({
    op: "set",
    addr: formatNetAddr(listener.addr),
    cause: new Error(`No tcp socket listens at ${name.slice("listen ".length)}`),
  });
}

/**
 * releaseFd tells the fd lookup that a conn or listener has been closed, so
 * that its fd, which the kernel hands to the next new socket, is tried first
 * by the next lookup. Call it right after `close()`. Never calling it costs
 * a scan on some later lookup, never a wrong answer. It makes no syscall,
 * needs no permission and never throws for a TCP conn or listener.
 *
 * @param socket The closed conn (its addresses) or listener (its `addr`).
 * @throws {TypeError} When socket is not TCP.
 *
 * @example Close a conn and release its fd
 * ```ts
 * import { connFd } from "@netconn/netconn/sockopt";
 * import { releaseFd } from "./fd.ts";
 * import assert from "node:assert/strict";
 *
 * using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await Deno.connect({ port: ln.addr.port });
 * using _peer = await ln.accept();
 * const fd = connFd(conn);
 * conn.close();
 * releaseFd(conn);
 * using next = await Deno.connect({ port: ln.addr.port });
 * using _peer2 = await ln.accept();
 * assert.ok(connFd(next) <= fd); // the kernel hands out the lowest free fd
 * ```
 */
export function releaseFd(socket: ConnAddrs | ListenerAddr): void {
  // A socket no lookup asked for is not in the index: no name to work out.
  const key = knownKey(socket);
  if (key !== undefined) fdIndex.release(key);
}

function formatNetAddr(addr: Deno.Addr): string {
  return "hostname" in addr ? joinHostPort(addr.hostname, addr.port) : addr.transport;
}
