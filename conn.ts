/**
 * Conn: a connection with Go's `net.Conn` contract, over any network. The
 * whole life of a connection is here: reads, writes, deadlines, half and
 * full close, streams and stats. The network's own methods live with its
 * subclass: tcp.ts, tls.ts, unix.ts, pipe.ts.
 *
 * @module
 */

import type { PipeAddr } from "./address.ts";
import { checkAbsolute, type DeadlineTime } from "./deadline.ts";
import { IoCore, type Network, type RawStream } from "./_io/core.ts";
import { checkBytes, checkOptions, checkSignal, checkTimeoutOption, describe } from "./_check.ts";
import { withTimeout } from "./_io/op_timeout.ts";
import { WATCH_IDLE } from "./_idle.ts";

export type { Network, RawStream };

/**
 * Options for one operation: {@linkcode Conn.read}, {@linkcode Conn.write},
 * {@linkcode Conn.closeWrite}, {@linkcode TlsConn.handshake},
 * {@linkcode Listener.accept}.
 */
export interface IoOptions {
  /** Ends this operation early, as a passed deadline would; the conn stays usable. */
  signal?: AbortSignal;
  /**
   * Milliseconds this operation may take, a relative limit beside the conn's
   * absolute deadlines (whichever comes first ends it): when it passes, the
   * operation fails with a {@linkcode TimeoutError} and the conn stays
   * usable, as at a deadline. 0 or omitted: no limit; negative: already
   * passed.
   */
  timeout?: number;
}

/** The keys of {@linkcode IoOptions}. */
const IO_OPTIONS = ["signal", "timeout"] as const;

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

/** What each class's constructor takes, as its argument error names it. */
const RAW_KINDS: Record<string, string> = {
  Conn: "a Deno.TcpConn, TlsConn or UnixConn",
  TcpConn: "a Deno.TcpConn",
  TlsConn: "a Deno.TlsConn",
  UnixConn: "a Deno.UnixConn",
};

/** The core of a conn: for its subclasses in this package only. */
export let coreOf: (conn: Conn) => IoCore;

/**
 * Conn is a connection with Go's `net.Conn` contract: the contract itself,
 * the same over every network. {@linkcode dial} and
 * {@linkcode Listener.accept} give its subclasses: {@linkcode TcpConn}
 * (with the TCP options), {@linkcode TlsConn}, {@linkcode UnixConn}, and
 * {@linkcode pipe}'s {@linkcode PipeConn}.
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
  #io: IoCore; // everything of I/O: state, turns, deadlines, the socket
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;

  static {
    // The one door to a conn's core, for its subclasses in this package.
    coreOf = (conn) => conn.#io;
  }

  /**
   * Wraps a stream (a `Deno.TcpConn`, `Deno.TlsConn` or `Deno.UnixConn`)
   * with the contract alone: no options are set. To get
   * Go's defaults and the network's own methods, wrap it as a
   * {@linkcode TcpConn}, {@linkcode TlsConn} or {@linkcode UnixConn}. The
   * Conn owns the conn from now on: use only the Conn.
   *
   * @param conn The connection, from `Deno.connect`, `Deno.connectTls`,
   *   `Deno.startTls` or a listener's `accept`.
   * @throws {TypeError} If `conn` is not a Deno stream conn.
   */
  constructor(conn: RawStream) {
    if (
      typeof conn !== "object" || conn === null || typeof conn.read !== "function" ||
      typeof conn.write !== "function" || typeof conn.closeWrite !== "function" ||
      typeof conn.localAddr !== "object" || conn.localAddr === null
    ) {
      throw new TypeError(
        `${new.target.name} takes ${RAW_KINDS[new.target.name] ?? "a Deno stream conn"}: received ${
          describe(conn)
        }`,
      );
    }
    this.#io = new IoCore(conn);
  }

  /** The network: `"tcp"`, `"tls"` (TLS over TCP), `"unix"` or `"pipe"`. */
  get network(): Network {
    return this.#io.network;
  }

  /**
   * The local address; it prints as Go prints it (`127.0.0.1:8001`, `[::1]:80`,
   * a unix path, `pipe`). An IPv4 peer of a dual-stack socket shows as IPv4,
   * as in Go.
   */
  get localAddr(): Deno.Addr | PipeAddr {
    return this.#io.localAddr;
  }

  /** The remote address, as {@linkcode Conn.localAddr}. */
  get remoteAddr(): Deno.Addr | PipeAddr {
    return this.#io.remoteAddr;
  }

  /**
   * Reads up to `p.length` bytes into `p`.
   *
   * @param p Where to put the bytes; never written after the returned promise settles.
   * @param options A signal or a timeout (ms) that ends this read early.
   * @returns The number of bytes read (at least 1 when `p` is not empty), or
   *   `null` at EOF. An empty `p` returns 0 at once.
   * @throws {TimeoutError} The read deadline or `timeout` passed (or `signal`
   *   fired with a timeout reason).
   * @throws {ClosedError} The conn was closed by this side.
   * @throws {NetError} The peer reset the connection, or `signal` fired (`kind: "aborted"`).
   * @throws {TypeError} If `p` is not a Uint8Array, `signal` not an
   *   AbortSignal, `timeout` not a number, or an option unknown; nothing is read.
   */
  read(p: Uint8Array, options?: IoOptions): Promise<number | null> {
    let checked: IoOptions | undefined;
    try {
      checkBytes(p, "Conn.read");
      if (options !== undefined) checked = checkIoOptions(options, "Conn.read");
    } catch (e) {
      return Promise.reject(e);
    }
    if (checked?.timeout !== undefined) {
      return withTimeout(checked.signal, checked.timeout, (signal) => this.#read(p, signal));
    }
    return this.#read(p, checked?.signal);
  }

  #read(p: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    const io = this.#io;
    if (p.length === 0) {
      const early = io.reader.refusal(signal);
      return early === undefined ? Promise.resolve(0) : Promise.reject(early);
    }
    const op = io.reader.read(p, signal);
    if (io.watchingIdle) io.checkIdleSoon(); // it may wait (or adopt a stranded read)
    return op;
  }

  /**
   * Writes all of `p` as one contiguous run of bytes, after the writes before it.
   *
   * @param p The bytes; never read after the returned promise settles.
   * @param options A signal or a timeout (ms) that ends this write early.
   * @returns `p.length`, once the OS has accepted every byte.
   * @throws {TimeoutError} The write deadline or `timeout` passed; see
   *   `bytesWritten` and `settled`.
   * @throws {ClosedError} The conn was closed by this side.
   * @throws {NetError} The peer reset the connection (`"reset"`), the stream
   *   was shut (`"broken-pipe"`), or `signal` fired (`"aborted"`).
   * @throws {TypeError} If `p` is not a Uint8Array, `signal` not an
   *   AbortSignal, `timeout` not a number, or an option unknown; nothing is sent.
   */
  write(p: Uint8Array, options?: IoOptions): Promise<number> {
    let checked: IoOptions | undefined;
    try {
      checkBytes(p, "Conn.write");
      if (options !== undefined) checked = checkIoOptions(options, "Conn.write");
    } catch (e) {
      return Promise.reject(e);
    }
    const io = this.#io;
    const writer = io.writer();
    const op = checked?.timeout === undefined
      ? writer.write(p, checked?.signal)
      : withTimeout(checked.signal, checked.timeout, (signal) => writer.write(p, signal));
    if (io.watchingIdle) {
      const done = (): void => io.checkIdleSoon(); // the last write's end may leave it idle
      op.then(done, done);
    }
    return op;
  }

  /**
   * Registers (null removes) a callback called each time the conn turns
   * idle: a read waits with nothing buffered and no write is queued. Returns
   * whether it is idle now. For {@linkcode serve}'s graceful shutdown.
   *
   * @param onIdle The callback, or null.
   * @returns Whether the conn is idle now.
   */
  [WATCH_IDLE](onIdle: (() => void) | null): boolean {
    return this.#io.watchIdle(onIdle);
  }

  /**
   * Sets the read and write deadlines; see {@linkcode Conn} for the contract.
   *
   * @param t A `Date` or epoch milliseconds (`Date.now() + ms` for a
   *   duration); `null` or `0` for none.
   * @throws {RangeError} If `t` is NaN, infinite, an invalid `Date`, or a
   *   number before 1973 (a duration passed by mistake).
   * @throws {ClosedError} If the conn is closed.
   */
  setDeadline(t: DeadlineTime): void {
    checkAbsolute(t, "Conn.setDeadline");
    this.#io.checkOpen();
    this.#io.readDeadline.set(t, "Conn.setDeadline");
    this.#io.writeDeadline.set(t, "Conn.setDeadline");
  }

  /**
   * Sets the deadline for pending and future reads; see {@linkcode Conn}.
   *
   * @param t A `Date` or epoch milliseconds (`Date.now() + ms` for a
   *   duration); `null` or `0` for none.
   * @throws {RangeError} If `t` is NaN, infinite, an invalid `Date`, or a
   *   number before 1973 (a duration passed by mistake).
   * @throws {ClosedError} If the conn is closed.
   */
  setReadDeadline(t: DeadlineTime): void {
    checkAbsolute(t, "Conn.setReadDeadline");
    this.#io.checkOpen();
    this.#io.readDeadline.set(t, "Conn.setReadDeadline");
  }

  /**
   * Sets the deadline for pending and future writes; see {@linkcode Conn}.
   *
   * @param t A `Date` or epoch milliseconds (`Date.now() + ms` for a
   *   duration); `null` or `0` for none.
   * @throws {RangeError} If `t` is NaN, infinite, an invalid `Date`, or a
   *   number before 1973 (a duration passed by mistake).
   * @throws {ClosedError} If the conn is closed.
   */
  setWriteDeadline(t: DeadlineTime): void {
    checkAbsolute(t, "Conn.setWriteDeadline");
    this.#io.checkOpen();
    this.#io.writeDeadline.set(t, "Conn.setWriteDeadline");
  }

  /**
   * Shuts down the sending side (TCP FIN) after the writes queued before this
   * call; the peer reads EOF and may go on sending. Later writes fail with a
   * `"broken-pipe"` NetError. Waiting for earlier writes is bounded by the
   * write deadline. Over TLS it sends a `close_notify` alert, then FIN: the
   * peer reads EOF and the conn still reads, a true half-close.
   *
   * @param options A signal or a timeout (ms) that bounds the wait for earlier writes.
   * @throws {ClosedError} If the conn is closed.
   * @throws {TimeoutError} If the write deadline or `timeout` passed while
   *   earlier writes were pending; nothing was shut.
   */
  closeWrite(options?: IoOptions): Promise<void> {
    return withIoOptions(options, "Conn.closeWrite", (signal) => this.#closeWrite(signal));
  }

  async #closeWrite(signal: AbortSignal | undefined): Promise<void> {
    const io = this.#io;
    io.checkOpen("close");
    try {
      await io.writer().inTurn(() => io.raw.closeWrite(), signal);
    } catch (e) {
      throw io.error("close", e);
    }
  }

  /**
   * Closes the conn. Pending and later operations fail with
   * {@linkcode ClosedError}. Calling it again does nothing.
   */
  close(): void {
    this.#io.close();
  }

  /**
   * Closes the conn and waits until the runtime has ended every operation it
   * had in flight, so the conn's port and resources are free when it returns.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#io.settled();
  }

  /**
   * Counters: bytes and operations each way, the write queue's depth and the
   * time writes spent blocked on a full socket.
   *
   * @returns A fresh snapshot.
   */
  stats(): ConnStats {
    const { reader, writerIfAny: writer } = this.#io;
    return {
      bytesRead: reader.bytes,
      bytesWritten: writer?.bytes ?? 0,
      reads: reader.count,
      writes: writer?.ops ?? 0,
      writeQueueDepth: writer?.depth ?? 0,
      writeBlockedMs: writer?.blockedMs ?? 0,
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
    const stream: ReadableStream<Uint8Array> = this.#io.reader.stream((p) => this.read(p), () => {
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
}

/**
 * Runs one operation with its options checked (a rejection for bad ones,
 * before anything starts) and its `timeout` composed into its signal.
 */
export function withIoOptions<T>(
  options: IoOptions | undefined,
  where: string,
  op: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  let checked: IoOptions;
  try {
    checked = checkIoOptions(options, where);
  } catch (e) {
    return Promise.reject(e);
  }
  return withTimeout(checked.signal, checked.timeout, op);
}

/** Checks one operation's options (see {@linkcode IoOptions}): unknown keys, types. */
export function checkIoOptions(options: IoOptions | undefined, where: string): IoOptions {
  const checked = checkOptions(options, where, IO_OPTIONS);
  checkSignal(checked.signal, where);
  checkTimeoutOption(checked.timeout, where);
  return checked;
}
