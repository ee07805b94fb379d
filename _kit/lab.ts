/**
 * Lab: owns what one experiment (a probe row, a bench cell) opens on
 * loopback, so that every one is closed when the experiment ends or runs out
 * of time. Private to the repository.
 *
 * @module
 */

import {
  type Address,
  dial,
  type DialOptions,
  listen,
  type Listener,
  type ListenOptions,
  type TcpConn,
} from "../mod.ts";
import { LOOPBACK, type Pair, pair, type RawPair, rawPair } from "./loopback.ts";
import { within } from "./wait.ts";

/**
 * Lab owns what one experiment opens. When its owner closes it (the
 * experiment ended, or its time limit passed) it closes everything, which
 * ends every pending operation on those resources; later opens fail.
 */
export class Lab {
  #closers: (() => void | Promise<void>)[] = [];
  #controller = new AbortController();
  #closing: Promise<void> | null = null;

  /** Aborts when the experiment's time is up or it has ended. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Listens on a free loopback port. */
  listen(options: ListenOptions = {}): Listener {
    this.checkOpen();
    const ln = listen(`${LOOPBACK}:0`, options);
    return this.track(ln, () => ln[Symbol.asyncDispose]());
  }

  /** Dials `address` with `options`; the dial also ends with the lab. */
  async dial(address: Address, options: DialOptions = {}): Promise<TcpConn> {
    this.checkOpen();
    const conn = await dial(address, { ...options, signal: this.#withLab(options.signal) });
    return this.track(conn, () => conn[Symbol.asyncDispose]());
  }

  /** A connected pair on a fresh loopback listener (see the kit's `pair`). */
  async pair(options: { dial?: DialOptions; listen?: ListenOptions } = {}): Promise<Pair> {
    this.checkOpen();
    const dialOptions = { ...options.dial, signal: this.#withLab(options.dial?.signal) };
    const p = await pair({
      ...(options.listen === undefined ? {} : { listen: options.listen }),
      dial: dialOptions,
      signal: this.signal,
    });
    return this.track(p, async () => await p[Symbol.asyncDispose]());
  }

  /** A connected pair of raw `Deno.TcpConn`s, for the raw-Deno contrast. */
  async rawPair(): Promise<RawPair> {
    this.checkOpen();
    const p = await rawPair();
    return this.track(p, () => p[Symbol.dispose]());
  }

  /** Closes `resource` with `close` when the lab ends; returns it. */
  track<T>(resource: T, close: () => void | Promise<void>): T {
    this.#closers.push(close);
    if (this.signal.aborted) {
      void this.close();
      this.checkOpen();
    }
    return resource;
  }

  /**
   * Closes everything, newest first, and waits (at most a second) until the
   * runtime has ended every operation on it; later opens fail. Idempotent.
   */
  close(reason = "the experiment ended"): Promise<void> {
    if (!this.signal.aborted) this.#controller.abort(new Error(reason));
    const closing = this.#closers.splice(0).reverse().map(async (close) => {
      try {
        await close();
      } catch {
        // Closed already (a raw Deno resource throws on a second close).
      }
    });
    const previous = this.#closing ?? Promise.resolve();
    this.#closing = Promise.all([previous, ...closing]).then(() => {});
    return within(this.#closing, 1000).then(() => {});
  }

  /** Throws the lab's reason once it is closed. */
  protected checkOpen(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }

  #withLab(signal: AbortSignal | undefined): AbortSignal {
    return signal === undefined ? this.signal : AbortSignal.any([signal, this.signal]);
  }
}
