/**
 * Conn: one TCP connection with Go's `net.Conn` contract. The whole life of a
 * connection is here: reads, writes, deadlines, half and full close, options,
 * streams and stats.
 *
 * @module
 */

import { formatAddr, isPipeAddr, normalizeAddr } from "./address.ts";
import { Deadline, type DeadlineTime } from "./deadline.ts";
import { NetError, type NetOp, NotSupportedError, type OpCounts, toNetError } from "./errors.ts";
import {
  type KeepAliveConfig,
  setKeepAlive,
  setKeepAliveConfig,
  setKeepAlivePeriod,
  setLinger,
  setNoDelay,
  setReadBuffer,
  setWriteBuffer,
  type SocketOptions,
  socketOptions,
  sockoptSupported,
} from "./sockopt/mod.ts";
import { type ConnAddrs, releaseFd } from "./_sys/fd.ts";
import { KernelSocket, shutdownSocket } from "./_sys/kernel.ts";
import { WriteQueue } from "./_io/write_queue.ts";
import {
  checkBoolean,
  checkBooleanOption,
  checkBytes,
  checkOptions,
  checkSignal,
  describe,
  optionError,
} from "./_check.ts";
import { libcAvailable } from "./_sys/libc.ts";
import { Reader } from "./_io/reader.ts";
import { CLOSED, waitFor } from "./_io/wait.ts";
import { WATCH_IDLE } from "./_idle.ts";

/**
 * The network of a {@linkcode Conn}: `"tcp"`, `"tls"` (TLS over TCP),
 * `"unix"`, or `"pipe"` (an end of a {@linkcode pipe}).
 */
export type Network = "tcp" | "tls" | "unix" | "pipe";

/** A Deno stream conn, as a Conn wraps it. */
type RawConn = Deno.TcpConn | Deno.TlsConn | Deno.UnixConn;

/**
 * Set in the options of a conn a {@linkcode Listener} accepted: its socket
 * inherited Nagle and keepalive from the listener (Linux), nothing to set.
 */
export const INHERITED: unique symbol = Symbol("netconn.inherited");

/** ConnOptions as the core passes them between its files. */
export type InternalConnOptions = ConnOptions & { [INHERITED]?: true };

/** True while `startTls` builds the TLS conn: the TCP conn's options carry over. */
let upgrading = false;

/** Options for one {@linkcode Conn.read} or {@linkcode Conn.write}. */
export interface IoOptions {
  /** Ends this operation early, as a passed deadline would; the conn stays usable. */
  signal?: AbortSignal;
}

/**
 * Options a new conn gets, from {@linkcode dial}, {@linkcode listen} or
 * `new Conn(raw, options)`: Go's defaults unless told otherwise.
 */
export interface ConnOptions {
  /** Turn Nagle's algorithm off, as Go does. @default {true} */
  noDelay?: boolean;
  /**
   * TCP keepalive, as Go's `Dialer.KeepAlive`: `true` or `0` for Go's
   * defaults (probes after 15 s idle, every 15 s, 9 of them; without
   * `--allow-ffi`, keepalive is on with the OS's timing), a number of
   * milliseconds for that idle time and interval (needs `--allow-ffi`),
   * `false` or a negative number for off.
   *
   * @default {true}
   */
  keepAlive?: boolean | number;
}

/** Counters of a {@linkcode Conn}, from {@linkcode Conn.stats}. */
export interface ConnStats {
  /** Bytes returned by `read`. */
  bytesRead: number;
  /** Bytes the OS accepted from `write`. */
  bytesWritten: number;
  /** Calls to `read` that returned data. */
  reads: number;
  /** Calls to `write` that completed in full. */
  writes: number;
  /** Writes waiting or in progress right now, including one stranded by a deadline. */
  writeQueueDepth: number;
  /** Milliseconds writes spent waiting for the socket to take more bytes (the peer was slow). */
  writeBlockedMs: number;
}

/**
 * Conn is a TCP connection with Go's `net.Conn` contract, made by
 * {@linkcode dial} or {@linkcode Listener.accept} (or by wrapping a
 * `Deno.TcpConn`).
 *
 * **Reads.** `read(p)` waits for data and returns how many bytes it put in
 * `p`: what has arrived, at most `p.length`. It returns `null` at EOF, after
 * the peer closed and every byte it sent has been read. Concurrent reads are
 * served one at a time, in order.
 *
 * **Writes.** `write(p)` resolves with `p.length` once the OS has accepted
 * every byte, however many runtime writes that takes. Concurrent writes are
 * served first come, first served, and each one's bytes are contiguous on the
 * wire. A failed write rejects with a {@linkcode NetError} whose
 * `bytesWritten` is the count of its own bytes the OS accepted.
 *
 * **Deadlines.** `setReadDeadline`, `setWriteDeadline` and `setDeadline`
 * (both) take an absolute time: a `Date` or epoch milliseconds; `null` or `0`
 * means none. A deadline applies to operations already waiting and to later
 * ones, and can be moved at any time, into the past too, taking effect at
 * once. When it passes, waiting and new operations fail with a
 * {@linkcode TimeoutError} (`timeout === true`, "i/o timeout") until it is
 * moved; the conn stays usable. A per-call `{ signal }` ends one operation
 * the same way. Nothing is lost: bytes that arrive after a read timed out go
 * to the next read, and a caller's buffer is never written, or read, after
 * its call has returned. A write that times out reports the bytes of its
 * buffer the OS accepted; when a runtime write was still in flight (Deno
 * cannot cancel one), `settled` gives the final count and no later write
 * starts before it is known.
 *
 * **Close.** After `close()`, every pending and later operation fails with
 * {@linkcode ClosedError} ("use of closed network connection"). `close()` is
 * idempotent. `closeWrite()` sends FIN after the writes queued before it;
 * the peer reads EOF and can still send.
 *
 * @example Echo one message
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * await using client = await dial(ln.addr);
 * await using server = await ln.accept();
 *
 * await client.write(new TextEncoder().encode("hello"));
 * const buf = new Uint8Array(16);
 * const n = await server.read(buf);
 * assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "hello");
 *
 * client.close();
 * assert.equal(await server.read(buf), null); // EOF
 * ```
 */
export class Conn implements AsyncDisposable {
  // The conn's state, all of it, in one place:
  //
  //   life       open ──closeWrite()──▶ half-closed (writes: "broken-pipe")
  //                │                          │
  //                └────────close()───────────┴──▶ closed (everything: ClosedError)
  //
  //   read turn  #reader (_reader.ts): one read at a time, in call order; the
  //              kernel first, else a runtime read into its buffer, made only
  //              when the buffer is empty.
  //   stranded   a runtime read a deadline or signal left running stays in
  //   read       #reader; the next read adopts it, so its bytes are not lost.
  //   write turn #writes (WriteQueue): one batch at a time, in call order;
  //   stranded   a runtime write a deadline or signal left running holds the
  //   write      write turn until it settles (its error's `settled`).
  //   kernel     #kernel: the TCP socket's fd for kernel-first I/O, found on
  //              first use, forgotten (never touched again) on close.
  //   deadlines  #readDeadline, #writeDeadline: watched by whatever waits.
  #conn: RawConn;
  #network: Network;
  #sock: ConnAddrs | null; // the TCP socket's addresses, for options through libc; null for unix
  #localAddr: Deno.Addr;
  #remoteAddr: Deno.Addr;
  #readDeadline = new Deadline();
  #writeDeadline = new Deadline();
  #writes: WriteQueue | null = null; // made by the first write or closeWrite
  #reader: Reader;
  #closed = false;
  // Kernel-first I/O on a TCP conn (Linux, --allow-ffi): looked up on first
  // use (undefined until then), null where there is none or once closed.
  #kernel: KernelSocket | null | undefined = undefined;
  #lingerZero = false; // setLinger(0): close resets the conn, as Go's
  #handshaken = false; // a TLS conn whose handshake() resolved
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;

  /**
   * Wraps a Deno stream conn: a `Deno.TcpConn`, `Deno.TlsConn` or
   * `Deno.UnixConn`. A TCP or TLS conn gets Go's defaults, as
   * {@linkcode dial} gives them: Nagle off, keepalive on (15 s with
   * `--allow-ffi`, the OS's timing without; a TLS conn has no Deno setters,
   * so it gets them only with `--allow-ffi`). The Conn owns the conn from now
   * on: use only the Conn.
   *
   * @param conn The connection, from `Deno.connect`, `Deno.connectTls`,
   *   `Deno.startTls` or a listener's `accept`.
   * @param options Nagle and keepalive for a TCP or TLS conn.
   * @throws {TypeError} If `conn` is not a Deno stream conn or an option has the wrong type.
   * @throws {RangeError} If `keepAlive` is NaN or infinite.
   * @throws {NotSupportedError} For a keepalive period without `--allow-ffi`.
   */
  constructor(conn: Deno.TcpConn | Deno.TlsConn | Deno.UnixConn, options?: ConnOptions) {
    if (
      typeof conn !== "object" || conn === null || typeof conn.read !== "function" ||
      typeof conn.write !== "function" || typeof conn.closeWrite !== "function" ||
      typeof conn.localAddr !== "object" || conn.localAddr === null
    ) {
      throw new TypeError(
        `new Conn takes a Deno.TcpConn, TlsConn or UnixConn: received ${describe(conn)}`,
      );
    }
    const { noDelay = true, keepAlive = true } = checkConnOptions(options, "new Conn");
    this.#conn = conn;
    this.#localAddr = normalizeAddr(conn.localAddr);
    this.#remoteAddr = normalizeAddr(conn.remoteAddr);
    const tcp = "hostname" in this.#localAddr;
    this.#network = isPipeAddr(this.#localAddr)
      ? "pipe"
      : !tcp
      ? "unix"
      : "handshake" in conn
      ? "tls"
      : "tcp";
    this.#sock = tcp ? { localAddr: this.#localAddr, remoteAddr: this.#remoteAddr } : null;
    this.#reader = new Reader({
      read: (p) => {
        if (this.#onIdle !== null) this.#checkIdleSoon(); // a read starts waiting
        return conn.read(p);
      },
      kernel: () => this.#kernelSocket(),
      deadline: this.#readDeadline,
      error: (failure) => this.#error("read", failure),
    });
    if (!upgrading && !(options as InternalConnOptions | undefined)?.[INHERITED]) {
      this.#applyOptions(noDelay, keepAlive);
    }
  }

  /** The kernel-first socket, found on first use; null for a conn that has none. */
  #kernelSocket(): KernelSocket | null {
    if (this.#kernel === undefined) {
      this.#kernel = this.#network === "tcp" ? KernelSocket.open(this.#sock!) : null;
    }
    return this.#kernel;
  }

  /**
   * Nagle and keepalive on the new conn. A socket the peer already reset may
   * refuse them; its first read or write says how.
   */
  #applyOptions(noDelay: boolean, keepAlive: boolean | number): void {
    const off = keepAlive === false || (typeof keepAlive === "number" && keepAlive < 0);
    const raw = this.#conn;
    try {
      if (this.#network === "tcp") {
        (raw as Deno.TcpConn).setNoDelay(noDelay);
        if (off || !sockoptSupported()) (raw as Deno.TcpConn).setKeepAlive(!off);
      } else if (this.#network === "tls" && sockoptSupported()) {
        setNoDelay(this.#sock!, noDelay);
        if (off) setKeepAlive(this.#sock!, false);
      }
      if (!off && this.#sock !== null && sockoptSupported()) {
        const period = keepAlive === true ? 0 : keepAlive as number; // 0: Go's 15 s
        // The fd the kernel-first socket found: no second lookup.
        const socket = this.#kernelSocket()?.fd ?? this.#sock;
        setKeepAliveConfig(socket, { enable: true, idle: period, interval: period });
      }
    } catch {
      // The socket is already dead; the next operation says how.
    }
  }

  /** The network: `"tcp"`, `"tls"` (TLS over TCP), `"unix"` or `"pipe"`. */
  get network(): Network {
    return this.#network;
  }

  /** The local address as errors name it. */
  get #source(): string {
    return formatAddr(this.#localAddr);
  }

  /** The remote address as errors name it. */
  get #addr(): string {
    return formatAddr(this.#remoteAddr);
  }

  /** The write queue, made on first use so that a conn that never writes holds none. */
  #queue(): WriteQueue {
    if (this.#writes !== null) return this.#writes;
    const conn = this.#conn;
    const kernel = this.#kernelSocket();
    this.#writes = new WriteQueue((chunk) => conn.write(chunk), {
      ...(kernel === null ? {} : { trySend: (p: Uint8Array) => kernel.send(p) }),
      deadline: this.#writeDeadline,
      site: { op: "write", net: this.#net, source: this.#source, addr: this.#addr },
    });
    if (this.#closed) this.#writes.close();
    return this.#writes;
  }

  /**
   * The local address; it prints as Go prints it (`127.0.0.1:8001`). An IPv4
   * peer of a dual-stack socket shows as IPv4, as in Go. (A unix conn's is a
   * `Deno.UnixAddr`: see {@linkcode UnixConn}.)
   */
  get localAddr(): Deno.NetAddr {
    return this.#localAddr as Deno.NetAddr;
  }

  /** The remote address, as {@linkcode Conn.localAddr}. */
  get remoteAddr(): Deno.NetAddr {
    return this.#remoteAddr as Deno.NetAddr;
  }

  /** The network as error messages name it, as Go: TLS runs over "tcp". */
  get #net(): string {
    return this.#network === "tls" ? "tcp" : this.#network;
  }

  /**
   * Reads up to `p.length` bytes into `p`.
   *
   * @param p Where to put the bytes; never written after the returned promise settles.
   * @param options A signal that ends this read early.
   * @returns The number of bytes read (at least 1 when `p` is not empty), or
   *   `null` at EOF. An empty `p` returns 0 at once.
   * @throws {TimeoutError} The read deadline passed (or `signal` fired with a timeout reason).
   * @throws {ClosedError} The conn was closed by this side.
   * @throws {NetError} The peer reset the connection, or `signal` fired (`kind: "aborted"`).
   * @throws {TypeError} If `p` is not a Uint8Array or `signal` not an AbortSignal;
   *   nothing is read.
   */
  read(p: Uint8Array, options?: IoOptions): Promise<number | null> {
    let signal: AbortSignal | undefined;
    try {
      checkBytes(p, "Conn.read");
      signal = checkIoOptions(options, "Conn.read");
    } catch (e) {
      return Promise.reject(e);
    }
    if (p.length === 0) {
      const early = this.#reader.refusal(signal);
      return early === undefined ? Promise.resolve(0) : Promise.reject(early);
    }
    const op = this.#reader.read(p, signal);
    if (this.#onIdle !== null) this.#checkIdleSoon(); // it may wait (or adopt a stranded read)
    return op;
  }

  /**
   * Writes all of `p` as one contiguous run of bytes, after the writes before it.
   *
   * @param p The bytes; never read after the returned promise settles.
   * @param options A signal that ends this write early.
   * @returns `p.length`, once the OS has accepted every byte.
   * @throws {TimeoutError} The write deadline passed; see `bytesWritten` and `settled`.
   * @throws {ClosedError} The conn was closed by this side.
   * @throws {NetError} The peer reset the connection (`"reset"`), the stream
   *   was shut (`"broken-pipe"`), or `signal` fired (`"aborted"`).
   * @throws {TypeError} If `p` is not a Uint8Array or `signal` not an
   *   AbortSignal; nothing is sent.
   */
  write(p: Uint8Array, options?: IoOptions): Promise<number> {
    let signal: AbortSignal | undefined;
    try {
      checkBytes(p, "Conn.write");
      signal = checkIoOptions(options, "Conn.write");
    } catch (e) {
      return Promise.reject(e);
    }
    const op = this.#queue().write(p, signal);
    if (this.#onIdle !== null) {
      const done = (): void => this.#checkIdleSoon(); // the last write's end may leave it idle
      op.then(done, done);
    }
    return op;
  }

  // The idle hook (_idle.ts), for serve()'s shutdown: idle is a read waiting
  // on the runtime with nothing buffered (#reader.waiting) and no write
  // queued or in flight. Hooked where a read starts (read(), and the runtime
  // read the reader starts), where a write ends (write()) and in close().
  // Telling waits a timer turn: a runtime read that completed without
  // waiting settles within the turn it was made in, and is not idle.
  #onIdle: (() => void) | null = null;
  #idleCheck: ReturnType<typeof setTimeout> | undefined = undefined;

  /**
   * Registers (null removes) a callback called each time the conn turns idle;
   * returns whether it is idle now. Internal: for serve().
   */
  [WATCH_IDLE](onIdle: (() => void) | null): boolean {
    this.#onIdle = onIdle;
    return !this.#closed && this.#reader.waiting && (this.#writes?.depth ?? 0) === 0;
  }

  #checkIdleSoon(): void {
    this.#idleCheck ??= setTimeout(() => {
      this.#idleCheck = undefined;
      const onIdle = this.#onIdle;
      if (onIdle !== null && this[WATCH_IDLE](onIdle)) onIdle();
    }, 0);
  }

  /**
   * Sets the read and write deadlines; see {@linkcode Conn} for the contract.
   *
   * @param t A `Date` or epoch milliseconds; `null` or `0` for none.
   * @throws {RangeError} If `t` is NaN, infinite or an invalid `Date`.
   * @throws {ClosedError} If the conn is closed.
   */
  setDeadline(t: DeadlineTime): void {
    this.#checkOpen();
    this.#readDeadline.set(t, "Conn.setDeadline");
    this.#writeDeadline.set(t, "Conn.setDeadline");
  }

  /**
   * Sets the deadline for pending and future reads; see {@linkcode Conn}.
   *
   * @param t A `Date` or epoch milliseconds; `null` or `0` for none.
   * @throws {RangeError} If `t` is NaN, infinite or an invalid `Date`.
   * @throws {ClosedError} If the conn is closed.
   */
  setReadDeadline(t: DeadlineTime): void {
    this.#checkOpen();
    this.#readDeadline.set(t, "Conn.setReadDeadline");
  }

  /**
   * Sets the deadline for pending and future writes; see {@linkcode Conn}.
   *
   * @param t A `Date` or epoch milliseconds; `null` or `0` for none.
   * @throws {RangeError} If `t` is NaN, infinite or an invalid `Date`.
   * @throws {ClosedError} If the conn is closed.
   */
  setWriteDeadline(t: DeadlineTime): void {
    this.#checkOpen();
    this.#writeDeadline.set(t, "Conn.setWriteDeadline");
  }

  /**
   * Completes the TLS handshake, if it has not completed yet, and returns
   * what it negotiated, as Go's `tls.Conn.Handshake` with
   * `ConnectionState().NegotiatedProtocol`. Deno runs the handshake by
   * itself as soon as the conn exists (the first read or write waits for
   * it); this waits for it, bounded by the conn's read and write deadlines:
   * a peer that never answers ends in a {@linkcode TimeoutError}, and the
   * conn stays as it was.
   *
   * @param options A signal that ends the wait early, as Go's `HandshakeContext`.
   * @returns The ALPN protocol the peer chose, or `null`.
   * @throws {NetError} Kind `"tls"` (op `"handshake"`) when the handshake
   *   failed: an unknown authority, a wrong host name, an expired
   *   certificate, a peer that does not speak TLS or sent an alert; `cause`
   *   is the runtime's error. A reset is kind `"reset"`.
   * @throws {TimeoutError} A deadline passed first.
   * @throws {NotSupportedError} On a conn that is not TLS.
   * @throws {ClosedError} If the conn is closed.
   */
  async handshake(options?: IoOptions): Promise<{ alpnProtocol: string | null }> {
    const signal = checkIoOptions(options, "Conn.handshake");
    if (this.#closed) throw this.#error("handshake", CLOSED);
    if (this.#network !== "tls") {
      throw this.#notSupported("handshake", "handshake needs a TLS conn");
    }
    try {
      const op = (this.#conn as Deno.TlsConn).handshake();
      const state = await waitFor(waitFor(op, this.#readDeadline, signal), this.#writeDeadline);
      this.#handshaken = true;
      return { alpnProtocol: state.alpnProtocol ?? null };
    } catch (e) {
      throw this.#error("handshake", e);
    }
  }

  /**
   * Upgrades this conn to TLS as its client, mid-conversation (STARTTLS,
   * Postgres's SSLRequest), as Go's `tls.Client(conn, config)` followed by
   * `Handshake`. It consumes this conn: from the call on, every use of it
   * fails with {@linkcode ClosedError}, also when the handshake fails
   * (Deno destroys the TCP conn then, so the socket is closed). The new
   * conn keeps the deadlines in effect, and the handshake is bounded by
   * them and by `signal`.
   *
   * It refuses, with a NetError of kind `"busy"` and the conn left usable
   * and nothing lost, while bytes are read but not yet returned, or a read
   * or write is pending (a read a deadline left running counts): Deno would
   * destroy the conn then.
   *
   * @param options The name to verify, trusted CAs, ALPN protocols, a signal.
   * @returns The TLS conn, handshake done.
   * @throws {NetError} Kind `"busy"` (see above), or `"tls"` when the handshake failed.
   * @throws {TimeoutError} A deadline passed during the handshake.
   * @throws {NotSupportedError} On a unix or TLS conn (only a TCP conn
   *   upgrades), or given a `cert` or `key` to serve: Deno has no server-side
   *   upgrade (Go's `tls.Server`).
   * @throws {ClosedError} If the conn is closed.
   * @throws {TypeError} If an option has the wrong type; nothing changes.
   */
  async startTls(options?: StartTlsOptions): Promise<Conn> {
    const checked = checkTlsOptions(options, "Conn.startTls");
    const { signal } = checked;
    if (this.#closed) throw this.#error("handshake", CLOSED);
    if (this.#network !== "tcp") {
      throw this.#notSupported("handshake", "startTls needs a TCP conn");
    }
    if ("cert" in checked || "key" in checked) {
      // A certificate to serve: Go's tls.Server(conn, config). Deno has none.
      throw this.#notSupported(
        "handshake",
        "startTls is the client side: Deno has no server-side TLS upgrade",
      );
    }
    const busy = this.#reader.busy ??
      ((this.#writes?.depth ?? 0) > 0 ? "a write is pending" : undefined);
    if (busy !== undefined) {
      throw new NetError(`startTls: ${busy}; the conn is left as it was`, {
        op: "handshake",
        kind: "busy",
        source: this.#source,
        addr: this.#addr,
      });
    }
    const readAt = this.#readDeadline.time;
    const writeAt = this.#writeDeadline.time;
    const host = (this.#remoteAddr as Deno.NetAddr).hostname;
    const raw = this.#conn as Deno.TcpConn;
    this.#consume();
    let tls: Conn;
    try {
      const tlsRaw = await Deno.startTls(raw, {
        hostname: checked.hostname ?? host,
        ...(checked.caCerts === undefined ? {} : { caCerts: checked.caCerts }),
        ...(checked.alpnProtocols === undefined ? {} : { alpnProtocols: checked.alpnProtocols }),
      });
      upgrading = true;
      try {
        tls = new Conn(tlsRaw);
      } finally {
        upgrading = false;
      }
    } catch (e) {
      throw this.#error("handshake", e);
    }
    try {
      if (readAt !== 0) tls.setReadDeadline(readAt);
      if (writeAt !== 0) tls.setWriteDeadline(writeAt);
      await tls.handshake(signal === undefined ? {} : { signal });
    } catch (e) {
      tls.close();
      throw e;
    }
    return tls;
  }

  /** startTls takes the socket over: this conn is closed without closing the socket. */
  #consume(): void {
    this.#closed = true;
    this.#kernel?.forget();
    this.#kernel = null;
    this.#writes?.close();
    this.#reader.close();
    this.#readDeadline.dispose();
    this.#writeDeadline.dispose();
  }

  /**
   * Shuts down the sending side (TCP FIN) after the writes queued before this
   * call; the peer reads EOF and may go on sending. Later writes fail with a
   * `"broken-pipe"` NetError. Waiting for earlier writes is bounded by the
   * write deadline. Over TLS it sends a `close_notify` alert, then FIN: the
   * peer reads EOF and the conn still reads, a true half-close.
   *
   * @throws {ClosedError} If the conn is closed.
   * @throws {TimeoutError} If the write deadline passed while earlier writes were pending.
   */
  async closeWrite(): Promise<void> {
    if (this.#closed) throw this.#error("close", CLOSED);
    try {
      await this.#queue().inTurn(() => this.#conn.closeWrite());
    } catch (e) {
      throw this.#error("close", e);
    }
  }

  /**
   * Closes the conn. Pending and later operations fail with
   * {@linkcode ClosedError}. Calling it again does nothing.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleCheck);
    this.#writes?.close();
    this.#reader.close();
    this.#readDeadline.dispose();
    this.#writeDeadline.dispose();
    if (this.#lingerZero) this.#kernelSocket()?.abort(); // RST now, as Go's close with linger 0
    // Deno's close leaves a TLS socket open while its handshake runs: shut it.
    const quiet = this.#reader.bytes === 0 && (this.#writes?.bytes ?? 0) === 0;
    if (this.#network === "tls" && !this.#handshaken && quiet) {
      shutdownSocket(this.#sock!);
    }
    this.#kernel?.forget();
    this.#kernel = null;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime: nothing to undo.
    }
    if (this.#sock !== null) releaseFd(this.#sock);
  }

  /**
   * Closes the conn and waits until the runtime has ended every operation it
   * had in flight, so the conn's port and resources are free when it returns.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await Promise.allSettled([this.#reader.settled(), this.#writes?.idle()]);
  }

  /**
   * Turns Nagle's algorithm off (`true`, Go's default and netconn's) or on.
   *
   * @param on True to send small writes at once.
   * @throws {TypeError} If `on` is not a boolean.
   * @throws {ClosedError} If the conn is closed.
   */
  setNoDelay(on: boolean): void {
    checkBoolean(on, "Conn.setNoDelay");
    const socket = this.#socket("setNoDelay");
    if (this.#network === "tcp") (this.#conn as Deno.TcpConn).setNoDelay(on);
    else setNoDelay(socket, on);
  }

  /**
   * Turns TCP keepalive on or off (on by default, as in Go).
   *
   * @param on True to send keepalive probes on an idle conn.
   * @throws {TypeError} If `on` is not a boolean.
   * @throws {ClosedError} If the conn is closed.
   */
  setKeepAlive(on: boolean): void {
    checkBoolean(on, "Conn.setKeepAlive");
    const socket = this.#socket("setKeepAlive");
    if (this.#network === "tcp") (this.#conn as Deno.TcpConn).setKeepAlive(on);
    else setKeepAlive(socket, on);
  }

  /**
   * Sets the keepalive idle time and probe interval. Both are set, as Go's
   * `SetKeepAlivePeriod` did up to Go 1.22 (Go 1.23 sets only the idle
   * time); 0 means Go's default, 15 s, as in Go 1.23. The kernel counts
   * whole seconds: the period is rounded up. It does not turn keepalive on.
   * Needs `--allow-ffi`.
   *
   * @param ms The period in milliseconds, >= 0 (Linux: up to 32767 s).
   * @throws {TypeError} If `ms` is not a number.
   * @throws {RangeError} If `ms` is negative, NaN or beyond the OS's limit.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  setKeepAlivePeriod(ms: number): void {
    setKeepAlivePeriod(this.#socket("setKeepAlivePeriod"), ms);
  }

  /**
   * Sets keepalive as Go 1.23's `SetKeepAliveConfig`: `enable` turns it on
   * or off; `idle`, `interval` (milliseconds) and `count` that are zero or
   * left out take Go's defaults (15 s, 15 s, 9), negative ones leave the
   * current value (after `dial` or `accept`, Go's defaults, which netconn
   * set). As in Go, `enable: false` still sets the other fields. Needs
   * `--allow-ffi`.
   *
   * @param config What to set.
   * @throws {RangeError} For values out of range.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   *
   * @example Probe after 30 idle seconds, then read it back
   * ```ts
   * import { dial, listen } from "@netconn/netconn";
   * import assert from "node:assert/strict";
   *
   * await using ln = listen("127.0.0.1:0");
   * await using conn = await dial(ln.addr);
   * await using _peer = await ln.accept();
   * conn.setKeepAliveConfig({ enable: true, idle: 30_000 });
   * const options = conn.socketOptions();
   * assert.equal(options.keepAlive, true);
   * assert.equal(options.keepAliveIdle, 30_000);
   * assert.equal(options.keepAliveCount, 9);
   * ```
   */
  setKeepAliveConfig(config: KeepAliveConfig): void {
    setKeepAliveConfig(this.#socket("setKeepAliveConfig"), config);
  }

  /**
   * Sets what close does with data not yet sent, as Go's `SetLinger`:
   *
   * - `< 0` (the default): close returns at once and the kernel sends the
   *   rest in the background.
   * - `0`: the rest is discarded and the connection reset at once: the
   *   peer's read fails with kind `"reset"`, as in Go (on Linux, where the
   *   conn's kernel-first socket aborts the connection; elsewhere Deno sends
   *   FIN before it closes, so the peer reads EOF if everything had arrived).
   * - `> 0`: on Linux, close waits up to that many seconds for the data to
   *   go out, and that wait blocks Deno's runtime thread (every timer and
   *   callback of the process); then the kernel goes on sending. Prefer the
   *   default.
   *
   * Needs `--allow-ffi`.
   *
   * @param seconds The linger time, an integer up to 2147483647.
   * @throws {TypeError} If `seconds` is not a number.
   * @throws {RangeError} If `seconds` is NaN, not an integer or too large.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  setLinger(seconds: number): void {
    setLinger(this.#socket("setLinger"), seconds);
    this.#lingerZero = seconds === 0;
  }

  /**
   * Sets the size of the OS receive buffer (SO_RCVBUF), as Go's
   * `SetReadBuffer`. Linux doubles it, applies a floor, caps it at
   * `net.core.rmem_max` and stops auto-tuning it. The window offered in the
   * handshake stays: to shrink an accepted conn's window, set the buffer on
   * the listener before the dial (`setReadBuffer(ln, n)` from
   * `@netconn/netconn/sockopt`). Needs `--allow-ffi`.
   *
   * @param bytes The size, an integer from 0 to 2147483647.
   * @throws {TypeError} If `bytes` is not a number.
   * @throws {RangeError} If `bytes` is negative, NaN or not an integer.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  setReadBuffer(bytes: number): void {
    setReadBuffer(this.#socket("setReadBuffer"), bytes);
  }

  /**
   * Sets the size of the OS send buffer (SO_SNDBUF), as Go's
   * `SetWriteBuffer`. Linux doubles it, applies a floor, caps it at
   * `net.core.wmem_max` and stops auto-tuning it. Needs `--allow-ffi`.
   *
   * @param bytes The size, an integer from 0 to 2147483647.
   * @throws {TypeError} If `bytes` is not a number.
   * @throws {RangeError} If `bytes` is negative, NaN or not an integer.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  setWriteBuffer(bytes: number): void {
    setWriteBuffer(this.#socket("setWriteBuffer"), bytes);
  }

  /**
   * Reads back the options in effect, as the kernel reports them (Linux
   * doubles buffer sizes; durations are whole seconds). Needs `--allow-ffi`.
   *
   * @returns NoDelay, keepalive settings, linger and buffer sizes.
   * @throws {NotSupportedError} Without `--allow-ffi`, or off Linux and macOS.
   * @throws {ClosedError} If the conn is closed.
   */
  socketOptions(): SocketOptions {
    return socketOptions(this.#socket("socketOptions"));
  }

  /**
   * Counters: bytes and operations each way, the write queue's depth and the
   * time writes spent blocked on a full socket.
   *
   * @returns A fresh snapshot.
   */
  stats(): ConnStats {
    return {
      bytesRead: this.#reader.bytes,
      bytesWritten: this.#writes?.bytes ?? 0,
      reads: this.#reader.count,
      writes: this.#writes?.ops ?? 0,
      writeQueueDepth: this.#writes?.depth ?? 0,
      writeBlockedMs: this.#writes?.blockedMs ?? 0,
    };
  }

  /**
   * The conn as a byte stream, with {@linkcode Conn.read}'s guarantees; BYOB
   * readers read straight into their buffers. Cancelling the stream stops
   * reading but leaves the conn open; close the conn with `close()`.
   *
   * A read error, a passed read deadline included, errors the stream for
   * good (web streams cannot resume). The conn stays usable: `read()` goes
   * on, and `readable` then hands out a fresh stream.
   */
  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable !== null) return this.#readable;
    const stream: ReadableStream<Uint8Array> = this.#reader.stream((p) => this.read(p), () => {
      if (this.#readable === stream) this.#readable = null;
    });
    return this.#readable = stream;
  }

  /**
   * The conn as a writable stream: each chunk is one {@linkcode Conn.write}.
   * Closing the stream is {@linkcode Conn.closeWrite}; aborting it closes the
   * conn. A write error errors the stream for good; `writable` then hands out
   * a fresh stream.
   */
  get writable(): WritableStream<Uint8Array> {
    if (this.#writable !== null) return this.#writable;
    const stream: WritableStream<Uint8Array> = new WritableStream({
      write: async (chunk) => {
        try {
          await this.write(chunk);
        } catch (e) {
          if (this.#writable === stream) this.#writable = null;
          throw e;
        }
      },
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
    return this.#writable = stream;
  }

  #checkOpen(): void {
    if (this.#closed) throw this.#error("set", CLOSED);
  }

  /** The TCP socket a socket option goes to: open, and not a unix socket or a pipe. */
  #socket(method: string): ConnAddrs {
    this.#checkOpen();
    if (this.#sock === null) {
      throw this.#notSupported("set", `${method} is a TCP option`);
    }
    return this.#sock;
  }

  /** The error for what this conn's network cannot do. */
  #notSupported(op: NetOp, what: string): NotSupportedError {
    const site = { op, net: this.#net, source: this.#source, addr: this.#addr };
    return new NotSupportedError(`${what}: this is a ${this.#network} conn`, site);
  }

  /** The one way this conn turns a failure (an interrupt, a runtime error) into its NetError. */
  #error(op: NetOp, failure: unknown, counts: OpCounts = {}): NetError {
    const site = { op, net: this.#net, source: this.#source, addr: this.#addr };
    return toNetError(
      failure,
      site,
      op === "read" ? { bytesRead: 0, ...counts } : counts,
      this.#closed,
    );
  }
}

/**
 * UnixConn is a {@linkcode Conn} over a unix socket, as {@linkcode dial} and
 * {@linkcode listen} give it for a `{ transport: "unix", path }` address:
 * the same contract (deadlines, whole writes, true counts, close, streams),
 * with unix addresses, and without the TCP options and TLS methods: calling
 * one is a type error here, and a {@linkcode NotSupportedError} at run time.
 * At run time it is a `Conn` whose `network` is `"unix"`.
 */
export type UnixConn =
  & Omit<
    Conn,
    | "localAddr"
    | "remoteAddr"
    | "setNoDelay"
    | "setKeepAlive"
    | "setKeepAlivePeriod"
    | "setKeepAliveConfig"
    | "setLinger"
    | "setReadBuffer"
    | "setWriteBuffer"
    | "socketOptions"
    | "handshake"
    | "startTls"
  >
  & {
    /** The local address; it prints as its path (`""` for an unnamed end). */
    readonly localAddr: Deno.UnixAddr;
    /** The remote address; it prints as its path (`""` for an unnamed end). */
    readonly remoteAddr: Deno.UnixAddr;
  };

/** Options for {@linkcode Conn.startTls}: how the client verifies the server. */
export interface StartTlsOptions {
  /** The name to verify the server's certificate for. @default {the remote address's host} */
  hostname?: string;
  /** PEM certificates of the authorities to trust, instead of the system's. */
  caCerts?: string[];
  /** ALPN protocols to offer, in order of preference. */
  alpnProtocols?: string[];
  /** Ends the handshake early: the upgraded conn is closed. */
  signal?: AbortSignal;
}
/**
 * Checks TLS client options field by field.
 *
 * @throws {TypeError} For a field of the wrong type.
 */
export function checkTlsOptions<T extends StartTlsOptions>(
  options: T | undefined,
  where: string,
): T {
  const checked = checkOptions(options, where);
  const { hostname, caCerts, alpnProtocols, signal } = checked;
  if (hostname !== undefined && (typeof hostname !== "string" || hostname === "")) {
    throw optionError(where, "hostname", "a non-empty string", hostname);
  }
  for (const [name, list] of [["caCerts", caCerts], ["alpnProtocols", alpnProtocols]] as const) {
    if (list !== undefined && (!Array.isArray(list) || !list.every((x) => typeof x === "string"))) {
      throw optionError(where, name, "an array of strings", list);
    }
  }
  checkSignal(signal, where);
  return checked;
}

/** Checks a read's or write's options; returns the signal. */
export function checkIoOptions(
  options: IoOptions | undefined,
  where: string,
): AbortSignal | undefined {
  const { signal } = checkOptions(options, where);
  checkSignal(signal, where);
  return signal;
}

/**
 * Checks {@linkcode ConnOptions} field by field, before any socket exists.
 *
 * @throws {TypeError} For a field of the wrong type.
 * @throws {RangeError} For a NaN or infinite keepalive period.
 * @throws {NotSupportedError} For a keepalive period without `--allow-ffi`.
 */
export function checkConnOptions(
  options: ConnOptions | undefined,
  where: string,
): ConnOptions {
  const checked = checkOptions(options, where);
  const { noDelay, keepAlive } = checked;
  checkBooleanOption(noDelay, where, "noDelay");
  if (keepAlive !== undefined && typeof keepAlive !== "boolean") {
    if (typeof keepAlive !== "number") {
      throw optionError(where, "keepAlive", "a boolean or milliseconds", keepAlive);
    }
    if (!Number.isFinite(keepAlive)) {
      throw new RangeError(
        `${where} option "keepAlive" must be finite: received ${describe(keepAlive)}`,
      );
    }
    if (keepAlive > 0 && !libcAvailable()) {
      throw new NotSupportedError("keepAlive period needs --allow-ffi (Linux or macOS)", {
        op: where === "listen" ? "listen" : "dial",
      });
    }
  }
  return checked;
}
