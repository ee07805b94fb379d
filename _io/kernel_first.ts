/**
 * KernelFirst: "try the kernel, else wait on the runtime", written once for
 * a conn's reads and writes, as Go's poller tries the syscall before it
 * parks. Internal.
 *
 * @module
 */

import { AGAIN } from "../_sys/kernel.ts";
import { cancel, nextTurn, schedule, type TimerEntry } from "./timers.ts";

export { AGAIN };

/** How long synchronous kernel-first I/O may run without the event loop turning. */
const RUN_MS = 2;
/** Operations of a run before it arms its canary (short runs arm nothing). */
const CANARY_AFTER = 8;
/** Reads skipped, at most, after a recv that found nothing. */
const MAX_SKIP = 64;
/** Busy-poll spins in a row that found nothing before spinning pauses. */
const SPIN_FAILS = 3;
/** Reads without a spin, at most, while spinning pauses. */
const MAX_SPIN_PAUSE = 1024;

/** The calls KernelFirst makes on a socket: a `KernelSocket` (`_sys/kernel.ts`), or a test's stand-in. */
export interface KernelCalls {
  /** The fd; -1 once forgotten. */
  readonly fd: number;
  /** What the kernel takes of `p` now, or AGAIN. */
  send(p: Uint8Array): number;
  /** What the kernel has now, null at EOF, or AGAIN. */
  recv(p: Uint8Array): number | null;
  /** Resets the connection (RST). */
  abort(): boolean;
  /** True when received bytes wait unread in the kernel. */
  hasUnread(): boolean;
  /** The fd is never touched again. */
  forget(): void;
}

/**
 * KernelFirst tries `send` and `recv` on a conn's socket right away, on the
 * caller's buffer; {@linkcode AGAIN} tells the caller to wait on the runtime.
 *
 * **Fairness.** A run of operations the kernel completes at once never lets
 * the event loop turn (an op that completes at once settles within the same
 * task), so timers, other conns and `close()` would starve. Once a run has
 * gone on for a few operations it arms a zero-delay canary timer: when the
 * loop turns, the canary runs and ends the run. A run that goes on for 2 ms
 * without the canary running says {@linkcode KernelFirst.mustYield}, and the
 * caller yields a real turn ({@linkcode KernelFirst.yield}) first. In
 * request and response, where every reply waits, the canary always runs in
 * time and nothing yields.
 *
 * **Reads that find nothing.** In request and response the kernel usually
 * has nothing when a read comes: after a recv that found nothing, the next
 * 1, 2, 4 … 64 reads skip the kernel and wait on the runtime at once, until
 * a recv finds data or a runtime read fills its buffer (a stream flows).
 *
 * **Busy-poll (opt-in).** With {@linkcode KernelFirst.busyPoll} set, a recv
 * that finds nothing tries again, spinning on the socket for up to that many
 * microseconds before the read waits on the runtime: a reply from a peer on
 * another core arrives without an event-loop wake-up. The spin holds the
 * thread (timers and other conns wait meanwhile), so it adapts: after 3
 * spins in a row find nothing, spinning pauses for 16, 32 … 1024 reads, and
 * one that finds data brings it back.
 */
export class KernelFirst {
  readonly #socket: KernelCalls;
  #runStart = -1; // performance.now() at the run's first operation; -1: no run
  #runOps = 0; // operations in the run
  #canary: TimerEntry | null = null; // armed while a long run goes on
  #skip = 0; // reads left to skip the kernel
  #skipNext = 0; // reads to skip after the next recv that finds nothing; 0 <= #skipNext <= MAX_SKIP
  #busyPollMs = 0; // how long a recv spins on an empty socket; 0: never
  #spinFails = 0; // spins in a row that found nothing
  #spinPause = 0; // reads left before the next spin
  readonly #onCanary = (): void => {
    this.#canary = null;
    this.#runStart = -1;
  };

  constructor(socket: KernelCalls) {
    this.#socket = socket;
  }

  /** The socket's fd, for options set while the conn is open; -1 once forgotten. */
  get fd(): number {
    return this.#socket.fd;
  }

  /** Microseconds a recv spins on an empty socket before the read waits; 0 (the default): off. */
  get busyPoll(): number {
    return Math.round(this.#busyPollMs * 1000);
  }

  set busyPoll(us: number) {
    this.#busyPollMs = us / 1000;
    this.#spinFails = this.#spinPause = 0;
  }

  /**
   * Receives what the kernel has now into `p` (not empty).
   *
   * @returns The count (> 0), `null` at EOF, or {@linkcode AGAIN}: wait on the runtime.
   * @throws The runtime's error classes, by errno (a reset, a closed socket).
   */
  recv(p: Uint8Array): number | null {
    if (this.#busyPollMs > 0) return this.#spin(p);
    if (this.#skip > 0) {
      this.#skip--;
      this.#runStart = -1; // the read waits on the runtime: a real turn
      return AGAIN;
    }
    const n = this.#socket.recv(p);
    if (n === AGAIN) {
      this.#skip = this.#skipNext = Math.min(Math.max(this.#skipNext * 2, 1), MAX_SKIP);
      this.#runStart = -1; // the runtime waits: a real turn
      return AGAIN;
    }
    this.#skipNext = 0;
    this.#ran();
    return n;
  }

  /** recv with busy-poll: spins on an empty socket, adaptively (see the class doc). */
  #spin(p: Uint8Array): number | null {
    let n = this.#socket.recv(p);
    if (n === AGAIN && this.#spinPause > 0) this.#spinPause--;
    else if (n === AGAIN) {
      const end = performance.now() + this.#busyPollMs;
      do n = this.#socket.recv(p); while (n === AGAIN && performance.now() < end);
      if (n === AGAIN && ++this.#spinFails >= SPIN_FAILS) {
        this.#spinPause = Math.min(16 << Math.min(this.#spinFails - SPIN_FAILS, 6), MAX_SPIN_PAUSE);
      }
    }
    if (n === AGAIN) {
      this.#runStart = -1; // the runtime waits: a real turn
      return AGAIN;
    }
    this.#spinFails = 0;
    this.#ran();
    return n;
  }

  /** A runtime read filled its buffer: data is flowing, so reads try the kernel again. */
  flowing(): void {
    this.#skip = this.#skipNext = 0;
  }

  /**
   * Sends what the kernel takes of `p` now.
   *
   * @returns The count (0 < n <= p.length), or {@linkcode AGAIN}: wait on the runtime.
   * @throws The runtime's error classes, by errno (a broken pipe, a reset).
   */
  send(p: Uint8Array): number {
    const n = this.#socket.send(p);
    if (n === AGAIN || n < p.length) this.#runStart = -1; // the socket is full: the runtime waits
    else this.#ran();
    return n;
  }

  /** True when the run has gone on for 2 ms without the loop turning: yield first. */
  get mustYield(): boolean {
    return this.#runStart >= 0 && this.#runOps >= CANARY_AFTER &&
      performance.now() - this.#runStart >= RUN_MS;
  }

  /** Yields one real turn of the event loop; the run is over. */
  yield(): Promise<void> {
    this.#runStart = -1;
    return nextTurn();
  }

  /** True when received bytes wait unread in the kernel. */
  hasUnread(): boolean {
    return this.#socket.hasUnread();
  }

  /** Aborts the connection at once (RST), as close with linger 0. */
  abort(): boolean {
    return this.#socket.abort();
  }

  /** The conn closed: the fd is never touched again, and the canary is disarmed. */
  forget(): void {
    this.#socket.forget();
    if (this.#canary !== null) cancel(this.#canary);
    this.#canary = null;
  }

  /** One more operation the kernel completed at once. */
  #ran(): void {
    if (this.#runStart < 0) {
      this.#runStart = performance.now();
      this.#runOps = 0;
    } else if (++this.#runOps === CANARY_AFTER && this.#canary === null) {
      this.#canary = schedule(this.#onCanary, 0);
    }
  }
}
