/**
 * The idle hook between a conn and the server that owns it: a conn is idle
 * while a read waits on the runtime (or kernel) with nothing buffered, and
 * no write is queued or in flight. `serve()` closes idle conns first when it
 * shuts down. Internal.
 *
 * A conn implements `[WATCH_IDLE](onIdle)`: it registers `onIdle` (null
 * removes it), which the conn calls each time it turns idle (a read starts
 * waiting, or the last write ends while a read waits), never synchronously
 * inside the call that made it idle, and returns whether the conn is idle
 * right now.
 *
 * @module
 */

/** The conn method that watches for idleness; see the module doc. */
export const WATCH_IDLE: unique symbol = Symbol("netconn.watchIdle");

/** What a conn that can be watched for idleness has. */
export interface IdleWatchable {
  /**
   * Registers (or with null removes) the callback called each time the conn
   * turns idle; returns whether it is idle now.
   */
  [WATCH_IDLE](onIdle: (() => void) | null): boolean;
}
