/**
 * TLS over a plain TCP conn through Deno's built-in `node:tls`, either side:
 * {@linkcode NodeTlsStream} makes a `node:tls` socket over a `stream.Duplex`
 * of the TCP conn a TlsStream, with backpressure at the TCP read loop,
 * `close_notify` on close, and node's errors as the Deno runtime errors
 * that mean the same. node_server.ts and node_client.ts configure it.
 * Internal.
 *
 * @module
 */

import type { TLSSocket } from "node:tls";
import { Duplex } from "node:stream";
import { X509Certificate } from "node:crypto";
import type { TlsState, TlsStream } from "./stream.ts";

/** Plaintext bytes waiting for the caller above which the TCP read loop waits (the peer meets a full window). */
const HIGH_WATER = 256 << 10;
/** How long a closing conn waits for its close_notify to be sent before it closes anyway. */
const CLOSE_NOTIFY_MS = 1000;
/** Size of one read from the TCP conn. */
const READ_SIZE = 64 << 10;

/**
 * A TLS conn over a TCP conn, through `node:tls`, either side. Reads and
 * writes wait for the handshake, and for `settle` to accept the peer, so
 * nothing reaches or leaves the caller before the peer is what the
 * configuration asks for.
 */
export class NodeTlsStream implements TlsStream {
  readonly localAddr: Deno.Addr;
  readonly remoteAddr: Deno.Addr;
  readonly #tcp: Deno.TcpConn;
  readonly #socket: TLSSocket;
  readonly #handshake: Promise<TlsState>;
  #chunks: Uint8Array[] = []; // plaintext received, not yet read, oldest first
  #queued = 0; // bytes in #chunks
  #ended = false;
  #failure: unknown = undefined; // the first error, for every later operation
  #wake: (() => void) | null = null; // the waiting read
  #roomWaiter: (() => void) | null = null; // the TCP read loop, waiting for the caller to read
  #pending = new Set<(e: unknown) => void>(); // rejecters of writes and closeWrite in flight
  #closed = false;
  #secure = false; // the handshake completed and the peer passed
  #state: TlsState | null = null; // what it negotiated, once #secure
  #writeShut = false; // closeWrite was called: close_notify sent or on its way
  #released = Promise.withResolvers<void>();
  #onFailure: ((e: unknown) => void) | null = null; // rejects the handshake, until it is done

  /**
   * @param tcp The TCP conn; the stream owns it from now on.
   * @param open Makes the TLS socket over a duplex of the TCP conn.
   * @param secure The socket's event for a completed handshake.
   * @param settle The handshake's state, or why the peer is refused.
   */
  constructor(
    tcp: Deno.TcpConn,
    open: (duplex: Duplex) => TLSSocket,
    secure: "secure" | "secureConnect",
    settle: (socket: TLSSocket) => TlsState | string,
  ) {
    this.#tcp = tcp;
    this.localAddr = tcp.localAddr;
    this.remoteAddr = tcp.remoteAddr;
    const socket = open(duplexOf(tcp, () => this.#room()));
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      this.#wakeReader();
    });
    socket.on("end", () => {
      this.#ended = true;
      if (!this.#secure) {
        this.#fail(new Deno.errors.UnexpectedEof("the peer closed during the handshake"));
      }
      this.#wakeReader();
    });
    socket.on("error", (e: unknown) => this.#fail(runtimeError(e)));
    socket.on("close", () => this.#fail(new Deno.errors.UnexpectedEof("tls: connection closed")));
    this.#handshake = new Promise<TlsState>((resolve, reject) => {
      socket.once(secure, () => {
        const state = settle(socket);
        if (typeof state === "string") {
          const e = new Deno.errors.InvalidData(state);
          this.#fail(e);
          socket.destroy();
          reject(e);
        } else {
          this.#secure = true;
          this.#state = state;
          resolve(state);
        }
      });
      this.#onFailure = reject;
    });
    this.#handshake.catch(() => {}); // observed by handshake(), read and write
  }

  handshake(): Promise<TlsState> {
    return this.#handshake;
  }

  /** The state once the handshake completed and the peer passed; null until then. */
  get state(): TlsState | null {
    return this.#state;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (!this.#secure) await this.#handshake;
    while (this.#chunks.length === 0 && !this.#ended && this.#failure === undefined) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const head = this.#chunks[0];
    if (head !== undefined) {
      const n = Math.min(head.length, p.length);
      p.set(head.subarray(0, n));
      if (n === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(n);
      this.#queued -= n;
      if (this.#queued < HIGH_WATER) this.#wakeRoom();
      return n;
    }
    if (this.#ended) return null;
    throw this.#failure;
  }

  async write(p: Uint8Array): Promise<number> {
    if (!this.#secure) await this.#handshake;
    if (this.#writeShut) {
      throw new Deno.errors.BrokenPipe("broken pipe: the sending side was shut");
    }
    if (this.#failure !== undefined) throw this.#failure;
    // As Deno's TLS write, done once the TLS layer holds the bytes (copied:
    // the caller's buffer is never read after its write returns), waiting
    // only while more than its high-water mark is queued for the socket.
    // A failure after that fails the next operation.
    const socket = this.#socket;
    if (!socket.write(p.slice(), this.#onWritten)) {
      await this.#op((done) => socket.once("drain", () => done()));
    }
    return p.length;
  }

  /** A write's callback: an error fails the stream (the 'error' event says it too). */
  #onWritten = (e?: Error | null): void => {
    if (e) this.#fail(runtimeError(e));
  };

  async closeWrite(): Promise<void> {
    await this.#handshake;
    if (this.#writeShut) return;
    this.#writeShut = true;
    await this.#op((done) => this.#socket.end(() => done()));
  }

  /**
   * Closes the stream: what waits fails at once. After a completed
   * handshake, `close_notify` goes out first, as Go's `Close` sends it, so
   * the peer reads EOF, not a truncation; the TCP conn is closed once it is
   * sent, or after {@linkcode CLOSE_NOTIFY_MS} if the peer does not take
   * it. {@linkcode NodeTlsStream.released} tells when.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const graceful = this.#failure === undefined && this.#secure && !this.#writeShut;
    this.#fail(new Deno.errors.BadResource("closed"));
    if (!graceful) return this.#destroy();
    const timer = setTimeout(() => this.#destroy(), CLOSE_NOTIFY_MS);
    this.#socket.end(() => {
      clearTimeout(timer);
      this.#destroy();
    });
  }

  /** Resolves once the TCP conn under the stream is closed. */
  get released(): Promise<void> {
    return this.#released.promise;
  }

  #destroy(): void {
    this.#socket.destroy();
    try {
      this.#tcp.close();
    } catch {
      // The duplex closed it already.
    }
    this.#released.resolve();
  }

  /** Runs a socket operation that calls back once; a failure or close rejects it. */
  #op(start: (done: (e?: Error | null) => void) => void): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<void>((resolve, reject) => {
      const onFail = (e: unknown) => reject(e);
      this.#pending.add(onFail);
      start((e) => {
        this.#pending.delete(onFail);
        if (e) reject(runtimeError(e));
        else resolve();
      });
    });
  }

  /** Records the first failure and fails everything waiting. */
  #fail(e: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = e;
    this.#onFailure?.(e);
    for (const reject of this.#pending) reject(e);
    this.#pending.clear();
    this.#wakeReader();
    this.#wakeRoom();
  }

  /** Resolves once fewer than HIGH_WATER bytes wait for the caller (or the stream failed). */
  #room(): Promise<void> | undefined {
    if (this.#queued < HIGH_WATER || this.#failure !== undefined) return undefined;
    return new Promise<void>((resolve) => this.#roomWaiter = resolve);
  }

  #wakeRoom(): void {
    const wake = this.#roomWaiter;
    this.#roomWaiter = null;
    wake?.();
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** The certificates the peer sent, leaf first (node:tls links them through issuerCertificate). */
export function peerChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let cert = socket.getPeerCertificate(true) as { raw?: Uint8Array; issuerCertificate?: unknown };
  const seen = new Set<unknown>();
  while (cert?.raw !== undefined && !seen.has(cert) && chain.length < 16) {
    seen.add(cert);
    chain.push(new X509Certificate(cert.raw));
    cert = cert.issuerCertificate as typeof cert;
  }
  return chain;
}

/** A node:tls or stream error as the Deno runtime error that means the same. */
export function runtimeError(e: unknown): unknown {
  if (e instanceof Deno.errors.BadResource || !(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  if (Object.values(Deno.errors).some((type) => e instanceof type)) return e;
  if (code === "ECONNRESET") return new Deno.errors.ConnectionReset(e.message, { cause: e });
  if (code === "EPIPE" || code === "ERR_STREAM_WRITE_AFTER_END") {
    return new Deno.errors.BrokenPipe("broken pipe: the sending side was shut", { cause: e });
  }
  return new Deno.errors.InvalidData(e.message, { cause: e });
}

/**
 * A TCP conn as a node Duplex: what node:tls runs over. Destroying it closes
 * the conn. Before each read of the TCP conn, `room()` may hold the loop
 * back while the caller has enough plaintext waiting: the peer then meets a
 * full window, as it would over TCP.
 */
function duplexOf(tcp: Deno.TcpConn, room: () => Promise<void> | undefined): Duplex {
  let reading = false;
  const buf = new Uint8Array(READ_SIZE);
  const duplex: Duplex = new Duplex({
    read() {
      if (reading) return;
      reading = true;
      (async () => {
        try {
          while (true) {
            await room();
            const n = await tcp.read(buf);
            if (n === null) {
              duplex.push(null);
              return;
            }
            if (!duplex.push(buf.slice(0, n))) break;
          }
          reading = false;
        } catch (e) {
          duplex.destroy(e as Error);
        }
      })();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      (async () => {
        let rest = chunk;
        while (rest.length > 0) rest = rest.subarray(await tcp.write(rest));
      })().then(() => callback(), callback);
    },
    final(callback) {
      tcp.closeWrite().then(() => callback(), callback);
    },
    destroy(error, callback) {
      try {
        tcp.close();
      } catch {
        // Closed already.
      }
      callback(error);
    },
  });
  return duplex;
}
