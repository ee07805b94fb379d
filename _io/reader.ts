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
import { AGAIN, type KernelFirst } from "./kernel_first.ts";
import {
  CLOSED,
  DEADLINE,
  dueInterrupt,
  Fifo,
  Interrupt,
  Leftover,
  resolvedCount,
  waitFor,
} from "./wait.ts";

/** Read sizes: the runtime reads at least MIN_READ bytes and at most MAX_READ. */
const MIN_READ = 2048;
const MAX_READ = 1 << 20;
/**
 * Read-ahead: while runtime reads keep filling the buffer, the next one
 * doubles, up to this. (A caller's read larger than it gets a buffer of its
 * own size, up to MAX_READ.)
 */
const READ_AHEAD = 256 * 1024;
/** The runtime read size of a stream's default reader (Deno's own streams read 64 KiB). */
const STREAM_READ = 64 * 1024;
/** A stream chunk at least this large takes the read buffer with it instead of a copy. */
const GIVE_AWAY = 8 * 1024;
const EMPTY = new Uint8Array(0);

/** What a {@linkcode Reader} reads from, and how it names its failures. */
export interface ReadSource {
  /** One runtime read into `p`; null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** The conn's kernel-first socket, when it has one (asked once, on the first read). */
  kernel(): KernelFirst | null;
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
 *
 * A read that can finish at once (bytes buffered, or the kernel has some)
 * finishes without a promise chain; one that must wait takes the turn and
 * holds it while it waits, so reads stay in call order.
 */
export class Reader {
  readonly #source: ReadSource;
  #kernel: KernelFirst | null | undefined = undefined; // undefined: not asked yet
  readonly #turn = new Fifo(); // held by the read that waits
  #buf: Uint8Array = EMPTY;
  #r = 0;
  #w = 0;
  readonly #pending = new Leftover<number | null>(); // a runtime read a deadline left running
  #filled = false; // the last runtime read filled #buf: read further ahead next time
  #eof = false;
  #closed = false;
  #bytes = 0;
  #count = 0;

  constructor(source: ReadSource) {
    this.#source = source;
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
    if (this.#turn.locked) return this.#wait(p, signal, false);
    const refusal = this.refusal(signal);
    if (refusal !== undefined) return Promise.reject(refusal);
    if (this.#r < this.#w) return resolvedCount(this.#take(p));
    if (this.#eof) return Promise.resolve(null);
    const kernel = this.#pending.op === null ? (this.#kernel ??= this.#source.kernel()) : null;
    if (kernel !== null) {
      if (kernel.mustYield) return this.#wait(p, signal, true);
      let n: number | null;
      try {
        n = kernel.recv(p);
      } catch (e) {
        return Promise.reject(this.#source.error(e));
      }
      if (n !== AGAIN) {
        if (n === null) return Promise.resolve(this.#counted(null));
        return resolvedCount(this.#counted(n));
      }
    }
    this.#turn.tryAcquire(); // free: checked above
    return this.#readRuntime(p, signal);
  }

  /**
   * Reads what has arrived into a chunk the caller owns: a large one takes
   * the read buffer itself (the next runtime read gets a new one), a small
   * one is a copy, so the buffer is reused while chunks are small. Null at
   * EOF.
   */
  async readChunk(size: number): Promise<Uint8Array | null> {
    const refusal = this.refusal(undefined);
    if (refusal !== undefined) throw refusal;
    if (!this.#turn.tryAcquire()) await this.#waitTurn(undefined);
    try {
      if (this.#r === this.#w && !(await this.#fill(size, undefined))) return null;
      let chunk: Uint8Array;
      if (this.#w - this.#r >= GIVE_AWAY && this.#r === 0) {
        chunk = this.#buf.subarray(0, this.#w);
        this.#buf = EMPTY;
      } else {
        chunk = this.#buf.slice(this.#r, this.#w);
      }
      this.#counted(this.#w - this.#r);
      this.#r = this.#w = 0;
      return chunk;
    } catch (e) {
      throw this.#failed(e);
    } finally {
      this.#turn.release();
    }
  }

  /** Why a read must fail before it starts (closed, deadline passed, signal fired), if it must. */
  refusal(signal: AbortSignal | undefined): NetError | undefined {
    const due = this.#closed ? CLOSED : dueInterrupt(this.#source.deadline, signal);
    return due === undefined ? undefined : this.#source.error(due);
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

  /** Moves what the read buffer holds, up to `p.length` bytes, into `p`, and counts it. */
  #take(p: Uint8Array): number {
    const n = Math.min(p.length, this.#w - this.#r);
    p.set(n === this.#buf.length ? this.#buf : this.#buf.subarray(this.#r, this.#r + n));
    this.#r += n;
    return this.#counted(n);
  }

  /** Counts a read that returned `n` (null: EOF). */
  #counted<T extends number | null>(n: T): T {
    if (n === null) this.#eof = true;
    else {
      this.#bytes += n;
      this.#count++;
    }
    return n;
  }

  /**
   * The read that waits for the turn (in line behind earlier reads), or
   * yields a turn of the event loop first if `yieldFirst`; then serves `p`
   * from the buffer, the kernel, or a runtime read.
   */
  async #wait(
    p: Uint8Array,
    signal: AbortSignal | undefined,
    yieldFirst: boolean,
  ): Promise<number | null> {
    // Up to the runtime wait, all of it runs now, in the caller's turn: a
    // deadline moved right after the call applies to this read.
    const refusal = this.refusal(signal);
    if (refusal !== undefined) throw refusal;
    if (!this.#turn.tryAcquire()) await this.#waitTurn(signal);
    try {
      if (yieldFirst) await this.#kernel!.yield();
      if (this.#r < this.#w) return this.#release(this.#take(p));
      if (this.#eof) return this.#release(null);
      const kernel = this.#kernel;
      if (kernel && this.#pending.op === null && !this.#closed) {
        const n = kernel.recv(p);
        if (n !== AGAIN) return this.#release(this.#counted(n));
      }
    } catch (e) {
      this.#turn.release();
      throw this.#failed(e);
    }
    return await this.#readRuntime(p, signal);
  }

  /** Releases the read turn and returns `value`. */
  #release<T>(value: T): T {
    this.#turn.release();
    return value;
  }

  /**
   * With the turn held and the buffer empty: a runtime read into the buffer
   * (or the one a deadline left running), then `p` served from it. One
   * promise, settled from the op's callbacks, the deadline's and the
   * signal's: an interrupt leaves the op running for the next read to adopt.
   * Releases the turn.
   */
  #readRuntime(p: Uint8Array, signal: AbortSignal | undefined): Promise<number | null> {
    if (this.#eof) return Promise.resolve(this.#release(null));
    const deadline = this.#source.deadline;
    let op = this.#pending.op;
    if (op === null) {
      try {
        op = this.#pending.adopt(() => this.#source.read(this.#bufferFor(p.length)));
      } catch (e) {
        this.#turn.release();
        return Promise.reject(this.#failed(e));
      }
    }
    return new Promise<number | null>((resolve, reject) => {
      let waiting = true;
      const stop = (): void => {
        waiting = false;
        deadline.unwatch(onExpire);
        signal?.removeEventListener("abort", onAbort);
      };
      const interrupt = (why: Interrupt): void => {
        if (!waiting) return;
        stop();
        this.#turn.release();
        reject(this.#source.error(why)); // the op stays, for the next read
      };
      const onExpire = (): void => interrupt(DEADLINE);
      const onAbort = (): void => interrupt(new Interrupt("abort", signal!.reason));
      op.then((n) => {
        if (!waiting) return;
        stop();
        this.#pending.clear();
        if (this.#closed) {
          // Closed while the runtime read was in flight: the buffer is gone.
          this.#turn.release();
          return reject(this.#source.error(CLOSED));
        }
        // A runtime read that brought nothing (a TLS record with no data):
        // read again, the turn still held. A read returns at least a byte.
        if (n === 0) return resolve(this.#readRuntime(p, signal));
        let result: number | null;
        if (n === null) result = this.#counted(null);
        else {
          this.#filled = n === this.#buf.length;
          if (this.#filled) this.#kernel?.flowing();
          this.#r = 0;
          this.#w = n;
          result = this.#take(p);
        }
        this.#turn.release();
        resolve(result);
      }, (e: unknown) => {
        if (!waiting) return;
        stop();
        this.#pending.clear(); // the runtime read failed: over
        this.#turn.release();
        reject(this.#source.error(this.#closed ? CLOSED : e));
      });
      if (signal !== undefined) {
        signal.addEventListener("abort", onAbort, { once: true });
        if (signal.aborted) return onAbort(); // fired already: the listener never will
      }
      deadline.watch(onExpire);
    });
  }

  /** Waits for the read turn, in line behind earlier reads; fails as a read would. */
  async #waitTurn(signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.#turn.acquire(this.#source.deadline, signal);
    } catch (e) {
      throw this.#source.error(e);
    }
  }

  /**
   * With the turn held and the buffer empty: a runtime read of up to `size`
   * bytes into the buffer, or the one a deadline left running. False at EOF.
   */
  async #fill(size: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (this.#eof) return false;
    const op = this.#pending.adopt(() => this.#source.read(this.#bufferFor(size)));
    // An interrupt leaves op running; the next read adopts it.
    const n = await waitFor(op, this.#source.deadline, signal);
    this.#pending.clear();
    if (this.#closed) throw CLOSED; // closed while the runtime read was in flight
    if (n === 0) return await this.#fill(size, signal); // nothing came: read again
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#filled = n === this.#buf.length;
    if (this.#filled) this.#kernel?.flowing();
    this.#r = 0;
    this.#w = n;
    return true;
  }

  /** The error of a read that failed while it held the turn. */
  #failed(e: unknown): NetError {
    if (!(e instanceof Interrupt)) this.#pending.clear(); // the runtime read failed: over
    return this.#source.error(e);
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
}
