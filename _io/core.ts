/**
 * IoCore: the I/O core of one conn, as Go's `poll.FD` is of a socket. It
 * holds the conn's open/closed state once, the read and write sides with
 * their turns, the deadlines, the kernel-first socket and the one way a
 * failure becomes the conn's error. `Conn` and its subclasses hold one
 * IoCore; a `PipeConn` serves its reads and writes itself (no read-ahead,
 * as Go's `net.Pipe`) and keeps the core's state, deadlines and errors.
 * Internal.
 *
 * @module
 */

import { formatAddr, isPipeAddr, normalizeAddr, type PipeAddr } from "../address.ts";
import { Deadline } from "../deadline.ts";
import {
  type NetError,
  type NetOp,
  NotSupportedError,
  type OpCounts,
  toNetError,
} from "../errors.ts";
import { type ConnAddrs, releaseFd } from "../_sys/fd.ts";
import { KernelSocket } from "../_sys/kernel.ts";
import { KernelFirst } from "./kernel_first.ts";
import { Reader } from "./reader.ts";
import { cancel, schedule, type TimerEntry } from "./timers.ts";
import { CLOSED } from "./wait.ts";
import { WriteQueue } from "./write_queue.ts";

/**
 * The network of a conn: `"tcp"`, `"tls"` (TLS over TCP), `"unix"`, or
 * `"pipe"` (an end of a `pipe()`).
 */
export type Network = "tcp" | "tls" | "unix" | "pipe";

/**
 * The stream a {@linkcode Conn} wraps: what it uses of a `Deno.TcpConn`,
 * `Deno.TlsConn` or `Deno.UnixConn` (or of a `pipe()` end).
 */
export interface RawStream {
  /** One runtime read into `p`; null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** One runtime write of a prefix of `p`. */
  write(p: Uint8Array): Promise<number>;
  /** Shuts the sending side. */
  closeWrite(): Promise<void>;
  /** Closes the stream; pending runtime operations fail. */
  close(): void;
  /** The local address. */
  readonly localAddr: Deno.Addr | PipeAddr;
  /** The remote address. */
  readonly remoteAddr: Deno.Addr | PipeAddr;
}

/**
 * The state of a conn, all of it, in one place:
 *
 * ```
 *   life       open ──closeWrite()──▶ half-closed (writes: "broken-pipe", said by the socket)
 *                │                          │
 *                └────────close()───────────┴──▶ closed (everything: ClosedError)
 *
 *   read turn  reader (reader.ts): one read at a time, in call order; the
 *   stranded   kernel first, else a runtime read into its buffer; a runtime
 *   read       read a deadline left running stays there for the next read.
 *   write turn writer (write_queue.ts): one batch at a time, in call order;
 *   stranded   a runtime write a deadline left running holds the write turn
 *   write      until it settles (its error's `settled`).
 *   kernel     the TCP socket's fd for kernel-first I/O, found on first use,
 *              forgotten (never touched again) on close.
 *   deadlines  readDeadline, writeDeadline: watched by whatever waits.
 * ```
 */
export class IoCore {
  /** The runtime stream. */
  readonly raw: RawStream;
  /** The network, told by the stream's addresses and type. */
  readonly network: Network;
  /** The local address. */
  readonly localAddr: Deno.Addr | PipeAddr;
  /** The remote address. */
  readonly remoteAddr: Deno.Addr | PipeAddr;
  /** The TCP socket's addresses, for options through libc; null for unix and pipe. */
  readonly sock: ConnAddrs | null;
  /** The read deadline. */
  readonly readDeadline: Deadline = new Deadline();
  /** The write deadline. */
  readonly writeDeadline: Deadline = new Deadline();
  /** The read side. */
  readonly reader: Reader;
  /** Close resets the connection (RST), as Go's close after `SetLinger(0)`. */
  resetOnClose = false;
  #writer: WriteQueue | null = null; // made by the first write or closeWrite
  #kernel: KernelFirst | null | undefined = undefined; // undefined: not looked up yet
  #closed = false;
  #onIdle: (() => void) | null = null; // serve()'s idle watch (_idle.ts)
  #idleCheck: TimerEntry | null = null; // an idle check due a timer turn from now

  /** @param raw The runtime stream; the core owns it from now on. */
  constructor(raw: RawStream) {
    this.raw = raw;
    this.localAddr = normalizeAddr(raw.localAddr);
    this.remoteAddr = normalizeAddr(raw.remoteAddr);
    const ip = "hostname" in this.localAddr;
    this.network = isPipeAddr(this.localAddr)
      ? "pipe"
      : !ip
      ? "unix"
      : "handshake" in raw
      ? "tls"
      : "tcp";
    this.sock = ip
      ? { localAddr: this.localAddr as Deno.NetAddr, remoteAddr: this.remoteAddr as Deno.NetAddr }
      : null;
    this.reader = new Reader({
      read: (p) => {
        if (this.#onIdle !== null) this.checkIdleSoon(); // a read starts waiting
        return raw.read(p);
      },
      kernel: () => this.kernel(),
      deadline: this.readDeadline,
      error: (failure) => this.error("read", failure),
    });
  }

  /** True once closed (or consumed by startTls). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The kernel-first socket of a TCP conn (Linux, `--allow-ffi`), found on
   * first use; null for other conns, where it cannot be used, or once closed.
   */
  kernel(): KernelFirst | null {
    if (this.#kernel === undefined) {
      const socket = this.network === "tcp" && !this.#closed ? KernelSocket.open(this.sock!) : null;
      this.#kernel = socket === null ? null : new KernelFirst(socket);
    }
    return this.#kernel;
  }

  /** The write side, made on first use so that a conn that never writes holds none. */
  writer(): WriteQueue {
    if (this.#writer !== null) return this.#writer;
    const raw = this.raw;
    this.#writer = new WriteQueue((chunk) => raw.write(chunk), {
      kernel: this.kernel(),
      deadline: this.writeDeadline,
      site: this.site("write"),
    });
    if (this.#closed) this.#writer.close();
    return this.#writer;
  }

  /** The write side if a write made it, else null. */
  get writerIfAny(): WriteQueue | null {
    return this.#writer;
  }

  /** Where an operation ran, as errors name it: TLS runs over "tcp", as in Go. */
  site(op: NetOp): { op: NetOp; net: string; source: string; addr: string } {
    return {
      op,
      net: this.network === "tls" ? "tcp" : this.network,
      source: formatAddr(this.localAddr),
      addr: formatAddr(this.remoteAddr),
    };
  }

  /** The one way this conn turns a failure (an interrupt, a runtime error) into its NetError. */
  error(op: NetOp, failure: unknown, counts: OpCounts = {}): NetError {
    const withCounts = op === "read" ? { bytesRead: 0, ...counts } : counts;
    return toNetError(failure, this.site(op), withCounts, this.#closed);
  }

  /** Throws ClosedError (for `op`) if the conn is closed. */
  checkOpen(op: NetOp = "set"): void {
    if (this.#closed) throw this.error(op, CLOSED);
  }

  /** The error for what this conn's network cannot do. */
  notSupported(op: NetOp, what: string): NotSupportedError {
    return new NotSupportedError(`${what}: this is a ${this.network} conn`, this.site(op));
  }

  /**
   * Closes the conn: waiting and later operations fail with ClosedError.
   * False if it was closed already.
   */
  close(): boolean {
    // The kernel socket of a conn that did kernel-first I/O is known; one that
    // did none is not looked up only to close it (a lookup would cost every
    // accept-and-close a fifth of its time).
    const kernel = this.resetOnClose ? this.kernel() : this.#kernel;
    if (!this.#release()) return false;
    // RST now, as Go's close with linger 0, or as close(2) alone with bytes
    // unread: Deno's close would shut the sending side (FIN) first, and the
    // peer's waiting write would then read EPIPE where Go's peer reads a reset.
    if (this.resetOnClose || kernel?.hasUnread()) kernel?.abort();
    this.#kernel?.forget();
    this.#kernel = null;
    try {
      this.raw.close();
    } catch {
      // Already closed by the runtime: nothing to undo.
    }
    if (this.sock !== null) releaseFd(this.sock);
    return true;
  }

  /** startTls takes the socket over: the core is closed without closing the socket. */
  consume(): void {
    if (!this.#release()) return;
    this.#kernel?.forget();
    this.#kernel = null;
  }

  /**
   * The idle watch (see _idle.ts): registers (null removes) the callback
   * called each time the conn turns idle, a read waiting on the runtime
   * with nothing buffered and no write queued or in flight; returns whether
   * it is idle now.
   */
  watchIdle(onIdle: (() => void) | null): boolean {
    this.#onIdle = onIdle;
    return this.#idleNow();
  }

  /** True while something watches for idleness. */
  get watchingIdle(): boolean {
    return this.#onIdle !== null;
  }

  /**
   * Checks for idleness one timer turn from now: a runtime read that
   * completes without waiting settles within the turn it was made in, and
   * is not idle.
   */
  checkIdleSoon(): void {
    this.#idleCheck ??= schedule(() => {
      this.#idleCheck = null;
      if (this.#onIdle !== null && this.#idleNow()) this.#onIdle();
    }, 0);
  }

  #idleNow(): boolean {
    return !this.#closed && this.reader.waiting && (this.#writer?.depth ?? 0) === 0;
  }

  /** Resolves once the runtime has ended every operation the core had in flight. */
  async settled(): Promise<void> {
    await Promise.allSettled([this.reader.settled(), this.#writer?.idle()]);
  }

  /** Marks the core closed and fails what waits; false if it was already. */
  #release(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    if (this.#idleCheck !== null) cancel(this.#idleCheck);
    this.#idleCheck = null;
    this.#writer?.close();
    this.reader.close();
    this.readDeadline.dispose();
    this.writeDeadline.dispose();
    return true;
  }
}
