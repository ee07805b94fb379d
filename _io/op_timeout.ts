/**
 * A relative timeout for one operation (`{ timeout: ms }` on read, write,
 * accept, handshake and closeWrite): a signal that fires, with a
 * `"TimeoutError"` reason as `AbortSignal.timeout`'s, when the time passes.
 * It composes with the caller's signal and with the conn's deadline: what
 * comes first ends the operation. Its timer is an entry in the shared timer
 * heap, cancelled as soon as the operation ends. Internal.
 *
 * @module
 */

import { cancel, MAX_TIMER_MS, schedule } from "./timers.ts";

/**
 * Runs `op` with `signal`, or, given a timeout, with a signal that also
 * fires when `timeout` milliseconds pass. 0, omitted or beyond the timer's
 * range (about 24.8 days, Infinity included) is no limit; negative has
 * passed already, as Go's deadline in the past.
 */
export function withTimeout<T>(
  signal: AbortSignal | undefined,
  timeout: number | undefined,
  op: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  if (timeout === undefined || timeout === 0 || timeout > MAX_TIMER_MS) return op(signal);
  const controller = new AbortController();
  const composed = signal === undefined
    ? controller.signal
    : AbortSignal.any([signal, controller.signal]);
  if (timeout < 0) {
    controller.abort(timedOut());
    return op(composed);
  }
  const entry = schedule(() => controller.abort(timedOut()), timeout);
  return op(composed).finally(() => cancel(entry));
}

function timedOut(): DOMException {
  return new DOMException("the operation's timeout passed", "TimeoutError");
}
