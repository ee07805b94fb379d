/**
 * ConnUnderTest: the shape of a connection {@linkcode testConn} tests, and
 * MakePipe, how it gets a fresh connected pair.
 *
 * @module
 */

import type { DeadlineTime } from "../deadline.ts";

/**
 * The connection testConn tests: what it calls of a {@linkcode Conn}. A
 * `Conn` fits, and so does a wrapper of one or any object of this shape.
 */
export interface ConnUnderTest {
  /** Reads up to `p.length` bytes; null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes all of `p`. */
  write(p: Uint8Array): Promise<number>;
  /** Sets both deadlines. */
  setDeadline(t: DeadlineTime): void;
  /** Sets the read deadline. */
  setReadDeadline(t: DeadlineTime): void;
  /** Sets the write deadline. */
  setWriteDeadline(t: DeadlineTime): void;
  /** Shuts the sending side: the peer reads EOF. The closeWrite step runs only if present. */
  closeWrite?(): Promise<void>;
  /** Closes the conn: pending operations end, the peer reads EOF. */
  close(): void;
  /** The local address. */
  readonly localAddr: unknown;
  /** The remote address. */
  readonly remoteAddr: unknown;
}

/**
 * Makes a fresh connected pair for one step: what `a` writes, `b` reads,
 * and the other way round. `stop` closes both and whatever else was made
 * (a listener, a temp dir), as Go's `nettest.MakePipe`.
 */
export type MakePipe = () => Promise<
  [a: ConnUnderTest, b: ConnUnderTest, stop: () => Promise<void> | void]
>;
