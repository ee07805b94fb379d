/**
 * Reader: the read side of a conn, as write_queue.ts is its write side. One
 * read at a time, in call order, through the conn's read buffer: the kernel
 * first (on the caller's own buffer) where the conn has a kernel-first
 * socket, else a runtime read into the buffer, which a deadline may leave
 * running for the next read to adopt, so no byte is lost. Internal.
 *
 * @module
 */

import type { Deadline } from "../deadline.ts";
import type { NetError } from "../errors.ts";
import { AGAIN, type KernelSocket } from "../_sys/kernel.ts";
import { nextTurn, SyncRun } from "./timers.ts";
import { CLOSED, dueInterrupt, Fifo, Interrupt, Leftover, resolvedCount, waitFor } from "./wait.ts";

/** Read sizes: the runtime reads at least MIN_READ bytes and at most MAX_READ. */
const MIN_READ = 2048;
const MAX_READ = 1 << 20;
/** How far ahead of the caller's read size the runtime reads, at most, while reads fill up. */
const READ_AHEAD = 256 * 1024;
/** The runtime read size of a stream's default reader (Deno's own streams read 64 KiB). */
const STREAM_READ = 64 * 1024;
/** A stream chunk at least this large takes the read buffer with it instead of a copy. */
const GIVE_AWAY = 8 * 1024;
const EMPTY = new Uint8Array(0);

/** What a {@linkcode Reader} reads from, and how it names its failures. */
export interface ReaderOptions {
  /** One runtime read into `p`; null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** The conn's kernel-first socket, when it has one (looked up on first use). */
  kernel(): KernelSocket | null;
  /** The read deadline. */
  deadline: Deadline;
  /** The conn's error for a failed read: an interrupt or a runtime error. */
  error(failure: unknown): NetError;
}

/**
 * Reader serves a conn's reads. Its state: the read buffer, `#buf[#r..#w]`
 * holding bytes read from the runtime and not yet returned (0 <= #r <= #w <=
 * #buf.length; the runtime reads into it only when it is empty, so a read a
 * deadline ends keeps its bytes for the next read and never touches a
 * caller's buffer); the read turn; and the runtime read a deadline left
 * running.
 */
export class Reader {
  #options: ReaderOptions;
  #kernel: KernelSocket | null | undefined = undefined; // undefined: not asked yet
  #turn = new Fifo(); // one read at a time, in call order
  #buf: Uint8Array = EMPTY;
  #r = 0;
  #w = 0;
  #pending = new Leftover<number | null>(); // a runtime read into #buf a deadline left running
  #filled = false; // the last runtime read filled #buf: read further ahead next time
  #run = new SyncRun(); // kernel-first reads since the last wait
  #waits = false; // the kernel had nothing last time: wait on the runtime until a read fills up
  #eof = false;
  #closed = false;
  #bytes = 0;
  #count = 0;

  constructor(options: ReaderOptions) {
    this.#options = options;
  }

  /** Bytes returned by reads. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Reads that returned data. */
  get count(): number {
    return this.#count;
  }

  /** Why the read side is not idle (bytes buffered, a read pending), or undefined. */
  get busy(): string | undefined {
    if (this.#w > this.#r) {
      return `${this.#w - this.#r} bytes were read from the socket but not yet returned by read`;
    }
    if (this.#pending.op !== null || this.#turn.locked) return "a read is pending";
    return undefined;
  }

  /**
   * True while a read holds the turn and waits on a runtime read with nothing
   * buffered: the read side of an idle conn (see _idle.ts).
   */
  get waiting(): boolean {
    return this.#turn.locked && this.#pending.op !== null && this.#r === this.#w;
  }

  /** Reads up to `p.length` bytes into `p` (not empty); null at EOF. */
  read(p: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    if (this.#r === this.#w && !this.#waits && (this.#kernel ??= this.#options.kernel()) !== null) {
      if (!this.#run.allowed()) {
        // Reading without a wait for 2 ms: give the event loop a turn first,
        // holding the read turn so later reads stay behind this one. The
        // read starts now (its deadline is checked now); the yield is not a
        // wait for the socket.
        if (!this.#turn.tryAcquire()) return this.#readCopy(p, signal);
        const refusal = this.refusal(signal);
        if (refusal !== undefined) {
          this.#turn.release();
          return Promise.reject(refusal);
        }
        this.#run.reset();
        return nextTurn().then(() => this.#readHeld(p, signal));
      }
      const now = this.#readNow(p, signal);
      if (now !== undefined) return now;
    }
    return this.#readCopy(p, signal);
  }

  /**
   * Reads what has arrived into a chunk the caller owns: a large one takes
   * the read buffer itself (the next runtime read gets a new one), a small
   * one is a copy, so the buffer is reused while chunks are small. Null at
   * EOF.
   */
  readChunk(size: number): Promise<Uint8Array | null> {
    return this.#inTurn(size, undefined, () => {
      let chunk: Uint8Array;
      if (this.#w - this.#r >= GIVE_AWAY && this.#r === 0) {
        chunk = this.#buf.subarray(0, this.#w);
        this.#buf = EMPTY;
      } else {
        chunk = this.#buf.slice(this.#r, this.#w);
      }
      this.#r = this.#w = 0;
      return chunk;
    });
  }

  /**
   * The read side as a byte stream: BYOB readers read straight into their
   * buffers with `read`, default readers get chunks of what has arrived. A
   * read error errors the stream (web streams cannot resume): `onError` is
   * told, so the conn can hand out a fresh one.
   */
  stream(
    read: (p: Uint8Array) => Promise<number | null>,
    onError: () => void,
  ): ReadableStream<Uint8Array> {
    const pull = async (controller: ReadableByteStreamController): Promise<void> => {
      const request = controller.byobRequest;
      if (request?.view) {
        const view = request.view;
        const n = await read(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        if (n === null) controller.close();
        request.respond(n ?? 0);
        return;
      }
      const chunk = await this.readChunk(STREAM_READ);
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    };
    return new ReadableStream({
      type: "bytes",
      pull: (controller) =>
        pull(controller).catch((e) => {
          onError();
          throw e;
        }),
    });
  }

  /** Why a read must fail before it starts (closed, deadline passed, signal fired), if it must. */
  refusal(signal: AbortSignal | undefined): NetError | undefined {
    const due = this.#closed ? CLOSED : dueInterrupt(this.#options.deadline, signal);
    return due === undefined ? undefined : this.#options.error(due);
  }

  /** The conn closed: waiting reads fail, the buffer and the kernel socket go. */
  close(): void {
    this.#closed = true;
    this.#kernel = null;
    this.#turn.close();
    this.#buf = EMPTY;
    this.#r = this.#w = 0;
  }

  /** Resolves once no runtime read is left running. */
  settled(): Promise<void> {
    return this.#pending.settled();
  }

  /** A read through the read buffer: from what it holds, or from a runtime read into it. */
  #readCopy(p: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    return this.#inTurn(p.length, signal, () => this.#copyInto(p));
  }

  /** Moves what the read buffer holds, up to `p.length` bytes, into `p`. */
  #copyInto(p: Uint8Array): number {
    const n = Math.min(p.length, this.#w - this.#r);
    p.set(this.#buf.subarray(this.#r, this.#r + n));
    this.#r += n;
    return n;
  }

  /** A read that yielded holding the turn: the kernel first, else the runtime waits. */
  #readHeld(p: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    const kernel = this.#kernel;
    let n: number | null = AGAIN;
    if (kernel && !this.#closed && !this.#eof && this.#pending.op === null && this.#r === this.#w) {
      try {
        n = kernel.recv(p);
      } catch (e) {
        this.#turn.release();
        return Promise.reject(this.#options.error(e));
      }
    }
    if (n === AGAIN) return this.#inTurn(p.length, signal, () => this.#copyInto(p), true);
    this.#turn.release();
    if (n === null) this.#eof = true;
    else {
      this.#bytes += n;
      this.#count++;
    }
    return Promise.resolve(n);
  }

  /**
   * The kernel-first read: with the turn free, nothing buffered and no
   * runtime read left running, `recv` straight into `p`. Undefined when the
   * kernel has nothing now: the runtime read waits for it.
   */
  #readNow(p: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> | undefined {
    const kernel = this.#kernel;
    if (!kernel || this.#eof || this.#pending.op !== null || this.#r < this.#w) {
      return undefined;
    }
    if (!this.#turn.tryAcquire()) return undefined;
    let n: number | null;
    try {
      const refusal = this.refusal(signal);
      if (refusal !== undefined) return Promise.reject(refusal);
      n = kernel.recv(p);
    } catch (e) {
      return Promise.reject(this.#options.error(e));
    } finally {
      this.#turn.release();
    }
    if (n === AGAIN) {
      // The runtime read waits: a real turn. Reads that come when the kernel
      // has nothing (request and response) skip the kernel until one fills
      // the buffer (a stream is flowing again).
      this.#run.reset();
      this.#waits = true;
      return undefined;
    }
    if (n === null) {
      this.#eof = true;
      return Promise.resolve(null);
    }
    this.#bytes += n;
    this.#count++;
    return resolvedCount(n);
  }

  /**
   * Takes the read turn (unless `held`), fills the read buffer from the runtime if it is
   * empty (a runtime read of up to `size` bytes), then lets `take` consume
   * from it. Null at EOF.
   */
  async #inTurn<T extends number | Uint8Array>(
    size: number,
    signal: AbortSignal | undefined,
    take: () => T,
    held = false, // the caller holds the turn already
  ): Promise<T | null> {
    const refusal = this.refusal(signal);
    if (refusal !== undefined) {
      if (held) this.#turn.release();
      throw refusal;
    }
    const { deadline, error } = this.#options;
    if (!held && !this.#turn.tryAcquire()) {
      try {
        await this.#turn.acquire(deadline, signal);
      } catch (e) {
        throw error(e);
      }
    }
    try {
      if (this.#r === this.#w) {
        if (this.#eof) return null;
        const op = this.#pending.adopt(() => this.#options.read(this.#bufferFor(size)));
        // An interrupt leaves op running; the next read adopts it.
        const n = await waitFor(op, deadline, signal);
        this.#pending.clear();
        this.#filled = n === this.#buf.length;
        if (this.#filled) this.#waits = false;
        if (n === null) {
          this.#eof = true;
          return null;
        }
        this.#r = 0;
        this.#w = n;
      }
      const before = this.#w - this.#r;
      const taken = take();
      this.#bytes += before - (this.#w - this.#r);
      this.#count++;
      return taken;
    } catch (e) {
      if (!(e instanceof Interrupt)) this.#pending.clear(); // the runtime read failed: over
      throw error(e);
    } finally {
      this.#turn.release();
    }
  }

  /** The read buffer, sized for a read of `len` bytes. Called only when it is empty. */
  #bufferFor(len: number): Uint8Array {
    // Read ahead: a runtime read that filled the buffer doubles the next one,
    // up to READ_AHEAD (bulk moves in fewer runtime reads); one that came back
    // short brings it back to the caller's size, so an idle conn stays small.
    const base = Math.min(Math.max(len, MIN_READ), MAX_READ);
    const want = this.#filled ? Math.min(Math.max(this.#buf.length * 2, base), READ_AHEAD) : base;
    if (this.#buf.length < want || this.#buf.length > want * 8) this.#buf = new Uint8Array(want);
    return this.#buf;
  }
}
