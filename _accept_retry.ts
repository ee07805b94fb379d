/**
 * Accept that survives: which accept errors are temporary, and the back-off
 * between retries, as Go's `http.Server.Serve` (5 ms, doubling, at most
 * 1 s). Used by `Listener`'s async iterator and by `serve()`. Internal.
 *
 * @module
 */

import { NetError } from "./errors.ts";

/** The first pause after a failed accept, in ms. */
export const FIRST_PAUSE = 5;
/** The longest pause between accepts, in ms. */
export const MAX_PAUSE = 1000;

/**
 * The OS errors after which the next accept may succeed, by their Linux
 * numbers and their messages (other systems number them differently): out
 * of descriptors (EMFILE 24, ENFILE 23) or memory (ENOBUFS 105, ENOMEM 12);
 * a connection that died in the backlog (ECONNABORTED 103, ECONNRESET 104,
 * EPROTO 71); the network errors `accept(2)` says to retry on (ENETDOWN 100,
 * ENOPROTOOPT 92, EHOSTDOWN 112, ENONET 64, EHOSTUNREACH 113, EOPNOTSUPP 95,
 * ENETUNREACH 101); and EAGAIN 11, EINTR 4, EPERM 1 (a firewall rule).
 */
const TEMPORARY_ERRNO = new Set([
  1,
  4,
  11,
  12,
  23,
  24,
  64,
  71,
  92,
  95,
  100,
  101,
  103,
  104,
  105,
  112,
  113,
]);
const TEMPORARY_TEXT =
  /too many open files|no buffer space|cannot allocate memory|out of memory|connection (aborted|reset)|protocol error|network is (down|unreachable)|host is (down|unreachable)|resource temporarily unavailable|interrupted/i;

/**
 * Whether a failed accept may be retried: the OS ran out of something for a
 * moment, or the connection died before it was taken. A closed listener,
 * and a passed deadline (the caller's own limit), are not.
 */
export function isTemporaryAcceptError(error: unknown): boolean {
  if (error instanceof NetError) {
    if (error.kind === "closed" || error.kind === "timeout") return false;
    if (error.kind === "reset") return true;
    return isTemporaryAcceptError(error.cause);
  }
  if (error instanceof Deno.errors.ConnectionAborted) return true;
  if (error instanceof Deno.errors.ConnectionReset) return true;
  if (error instanceof Deno.errors.Interrupted) return true;
  if (error instanceof Deno.errors.WouldBlock) return true;
  if (!(error instanceof Error)) return false;
  const errno = /\(os error (\d+)\)/.exec(error.message);
  if (errno !== null && Deno.build.os === "linux") return TEMPORARY_ERRNO.has(Number(errno[1]));
  return TEMPORARY_TEXT.test(error.message);
}

/** The pauses between failed accepts: 5 ms, doubling, at most 1 s; reset by a success. */
export class Backoff {
  #ms = 0; // the last pause; 0 after a success

  /** The next pause, in ms. */
  next(): number {
    this.#ms = this.#ms === 0 ? FIRST_PAUSE : Math.min(this.#ms * 2, MAX_PAUSE);
    return this.#ms;
  }

  /** An accept succeeded: the next failure pauses 5 ms again. */
  reset(): void {
    this.#ms = 0;
  }
}

/** Waits `ms`, or less if `signal` fires; the timer is cleared either way. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(id);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const id = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
