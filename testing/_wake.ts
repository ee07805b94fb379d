/**
 * Wake: how one task of the proxy sleeps until something changes (data came,
 * a fault was added or removed, the conn closed) or a time passes.
 *
 * @module
 */

/**
 * A wake-up call for one waiting task. The task checks its state, and only
 * if it must wait calls {@linkcode Wake.wait} in the same synchronous turn,
 * so a {@linkcode Wake.wake} is never lost: whatever changed the state
 * before the wait is seen by the check. Each wait owns its timer and clears
 * it, so nothing outlives the wait.
 */
export class Wake {
  #waiting: (() => void) | null = null; // resolves the one pending wait

  /** Ends the pending wait, if there is one. */
  wake(): void {
    const resolve = this.#waiting;
    this.#waiting = null;
    resolve?.();
  }

  /**
   * Waits for {@linkcode Wake.wake}, or until `ms` have passed.
   *
   * @param ms The longest wait; `Infinity` for none.
   */
  async wait(ms = Infinity): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiting = resolve;
    const timer = ms === Infinity ? undefined : setTimeout(resolve, Math.max(0, ms));
    try {
      await promise;
    } finally {
      clearTimeout(timer);
      if (this.#waiting === resolve) this.#waiting = null;
    }
  }
}
