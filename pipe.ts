/**
 * pipe(): Go's `net.Pipe`, an in-memory full-duplex pair of
 * {@linkcode PipeConn}s.
 *
 * @module
 */

import { Conn } from "./conn.ts";
import type { PipeAddr } from "./address.ts";

/**
 * Returns the two ends of an in-memory, full-duplex connection, as Go's
 * `net.Pipe`: what one end writes, the other reads. No sockets, no
 * permissions. Each end is a {@linkcode Conn} with its whole contract:
 * deadlines moved while operations wait, whole concurrent writes, true
 * counts, `close` (the other end reads EOF, its writes fail with kind
 * `"broken-pipe"`), `closeWrite` (the other end reads EOF and can still
 * send), streams, stats and `await using`.
 *
 * As in Go there is no buffering in between: a write resolves once the
 * other end has read all of it. "Read" means the bytes left the writer for
 * the reading Conn: a Conn reads into its own buffer, at least 2 KiB at a
 * time, so a write of up to 2 KiB resolves when the reader's `read` takes
 * its first byte, and the rest waits in the reader's buffer for its next
 * `read`. A write that a deadline ends before the reader took its bytes is
 * a write stranded in flight: its `TimeoutError` carries `settled`, which
 * resolves with the final count once the reader takes some of them or
 * either end closes.
 *
 * The ends are {@linkcode PipeConn}s: `network` `"pipe"`, addresses
 * that print as `pipe` ({@linkcode PipeAddr}), and no socket options. While an operation on a pipe
 * waits, the process stays alive, as it would for a socket.
 *
 * @returns The two ends.
 *
 * @example Write on one end, read on the other
 * ```ts
 * import { pipe } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = pipe();
 * await using _a = a;
 * await using _b = b;
 *
 * const buf = new Uint8Array(5);
 * const [written, read] = await Promise.all([
 *   a.write(new TextEncoder().encode("hello")), // resolves once b has read it
 *   b.read(buf),
 * ]);
 * assert.equal(written, 5);
 * assert.equal(read, 5);
 * assert.equal(String(a.localAddr), "pipe");
 *
 * a.close();
 * assert.equal(await b.read(buf), null); // EOF
 * ```
 */
export function pipe(): [PipeConn, PipeConn] {
  const ab = new Channel();
  const ba = new Channel();
  const a = new PipeConn(new RawEnd(ba, ab));
  const b = new PipeConn(new RawEnd(ab, ba));
  return [a, b];
}

/**
 * PipeConn is an end of a {@linkcode pipe}: the {@linkcode Conn} contract in
 * memory, without socket options. Its addresses print as `pipe`.
 *
 * @example An end of a pipe
 * ```ts
 * import { pipe, PipeConn } from "@netconn/netconn";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = pipe();
 * assert.ok(a instanceof PipeConn);
 * assert.equal(a.network, "pipe");
 * a.close();
 * b.close();
 * ```
 */
export class PipeConn extends Conn {
  /** The local address: `pipe`. */
  override get localAddr(): PipeAddr {
    return super.localAddr as PipeAddr;
  }

  /** The remote address: `pipe`. */
  override get remoteAddr(): PipeAddr {
    return super.remoteAddr as PipeAddr;
  }
}

/** A raw write waiting for a reader: `chunk` is the runtime's copy, never the caller's buffer. */
interface Offer {
  chunk: Uint8Array;
  resolve(n: number): void;
  reject(error: unknown): void;
}

/** A raw read waiting for a writer: `buf` is the reading Conn's buffer. */
interface Request {
  buf: Uint8Array;
  resolve(n: number | null): void;
  reject(error: unknown): void;
}

/**
 * Channel is one direction of a pipe. It holds no bytes: a raw write waits
 * (as an offer) until a raw read of the other end takes bytes from it, and
 * then resolves with how many were taken; a raw read of `n` bytes takes at
 * most `n`. So a write resolves only once its bytes are in the reading
 * Conn's buffer, never before.
 *
 *   state   open ──writer shut (closeWrite, close)──▶ reads: null
 *             └────reader gone (close)──────────────▶ writes: BrokenPipe
 */
class Channel {
  #offers: Offer[] = []; // raw writes waiting, in call order
  #requests: Request[] = []; // raw reads waiting, in call order
  #writerShut = false; // no more writes: reads return null once the offers are taken
  #readerGone = false; // the reading end closed: writes fail

  /** A raw write: resolves with the bytes of `chunk` a raw read took. */
  write(chunk: Uint8Array): Promise<number> {
    if (this.#readerGone || this.#writerShut) return Promise.reject(brokenPipe());
    if (chunk.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.#offers.push({ chunk, resolve, reject });
      hold();
      this.#match();
    });
  }

  /** A raw read: resolves with the bytes it put in `buf`, or null once the writer shut. */
  read(buf: Uint8Array): Promise<number | null> {
    if (buf.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.#requests.push({ buf, resolve, reject });
      hold();
      this.#match();
    });
  }

  /** The writer shut its side: reads return null once the waiting offers are taken. */
  shutWriter(): void {
    this.#writerShut = true;
    this.#match();
  }

  /** The writer closed: its waiting writes fail with `error`; reads return null. */
  closeWriter(error: unknown): void {
    this.#writerShut = true;
    failAll(this.#offers, error);
    this.#match();
  }

  /** The reader closed: its waiting reads fail with `error`; writes fail with BrokenPipe. */
  closeReader(error: unknown): void {
    this.#readerGone = true;
    failAll(this.#requests, error);
    failAll(this.#offers, brokenPipe());
  }

  /** Hands bytes from the first offer to the first request, while both exist. */
  #match(): void {
    while (this.#requests.length > 0) {
      const request = this.#requests[0]!;
      const offer = this.#offers[0];
      if (offer === undefined) {
        if (!this.#writerShut) return;
        this.#requests.shift();
        release();
        request.resolve(null);
        continue;
      }
      const n = Math.min(request.buf.length, offer.chunk.length);
      request.buf.set(n === offer.chunk.length ? offer.chunk : offer.chunk.subarray(0, n));
      this.#requests.shift();
      this.#offers.shift();
      release();
      release();
      settle(() => {
        request.resolve(n);
        offer.resolve(n);
      });
    }
  }
}

/**
 * RawEnd is one end of a pipe as a Conn sees it: the shape of a Deno stream
 * conn (read, write, closeWrite, close, addresses) over two channels.
 */
class RawEnd {
  readonly localAddr: PipeAddr = { transport: "pipe" };
  readonly remoteAddr: PipeAddr = { transport: "pipe" };
  #in: Channel;
  #out: Channel;
  #closed = false;

  constructor(incoming: Channel, outgoing: Channel) {
    this.#in = incoming;
    this.#out = outgoing;
  }

  read(buf: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(closedHere());
    return this.#in.read(buf);
  }

  write(chunk: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(closedHere());
    return this.#out.write(chunk);
  }

  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(closedHere());
    this.#out.shutWriter();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#in.closeReader(closedHere());
    this.#out.closeWriter(closedHere());
  }
}

/** Fails every waiting operation of `list` with `error`, emptying it. */
function failAll(list: { reject(error: unknown): void }[], error: unknown): void {
  for (const op of list.splice(0)) {
    release();
    op.reject(error);
  }
}

function brokenPipe(): Error {
  return new Deno.errors.BrokenPipe("write on closed pipe");
}

function closedHere(): Error {
  return new Deno.errors.BadResource("pipe end closed");
}

// Raw operations waiting on any pipe keep the process alive, as a pending
// socket operation does: a deadline's timer does not by itself, and without
// this a read waiting on a deadline alone would see the event loop end.
let waiting = 0; // raw reads and writes waiting, over every pipe
let keepAlive: ReturnType<typeof setInterval> | undefined; // a ref'd timer while waiting > 0

function hold(): void {
  if (waiting++ === 0) keepAlive = setInterval(idle, 1 << 30);
}

function release(): void {
  if (--waiting === 0) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

function idle(): void {}

// A pipe's hand-offs settle promises, and promise callbacks run before any
// timer: two tasks talking over a pipe in a loop would never let the event
// loop turn, so no deadline could fire. After YIELD_MS of hand-offs without
// a turn, the next ones settle from a zero-delay timer: the event loop turns
// at least that often, as a socket's operations let it.
const YIELD_MS = 4;
let turnStart = performance.now(); // when hand-offs last let the event loop turn
let lastHandoff = turnStart; // when the last hand-off settled
let deferred: (() => void)[] | null = null; // settlements waiting for the turn

function settle(fn: () => void): void {
  const now = performance.now();
  if (now - lastHandoff >= YIELD_MS) turnStart = now; // a quiet gap: a new run of hand-offs
  lastHandoff = now;
  if (deferred !== null) {
    deferred.push(fn);
  } else if (now - turnStart < YIELD_MS) {
    fn();
  } else {
    deferred = [fn];
    setTimeout(flush, 0);
  }
}

function flush(): void {
  const due = deferred!;
  deferred = null;
  turnStart = performance.now();
  for (const fn of due) fn();
}
