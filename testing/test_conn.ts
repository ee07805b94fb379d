/**
 * testConn: the conformance suite for a connection, as Go's
 * `nettest.TestConn`, plus netconn's own contract.
 *
 * @module
 */

import type { DeadlineTime } from "../deadline.ts";
import { goSteps } from "./_go_steps.ts";
import { contractSteps } from "./_contract_steps.ts";
import { ConnTestFailure, mustEnd, Tasks } from "./_conn_check.ts";

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

/** What testConn needs of a test context: `Deno.TestContext` fits. */
export interface StepContext {
  /** Runs one step; resolves with false if it failed. */
  step(name: string, fn: () => Promise<void>): Promise<boolean>;
}

/** Options for {@linkcode testConn}. */
export interface TestConnOptions {
  /**
   * How long an operation that must end (a read at a passed deadline, an
   * operation pending at close) may take before its step fails.
   * @default {2000}
   */
  waitMs?: number;
}

/** What a step's body gets: the pair, its background tasks and the wait bound. */
export interface StepRun {
  a: ConnUnderTest;
  b: ConnUnderTest;
  tasks: Tasks;
  waitMs: number;
}

/** A named step of the suite. */
export type Step = [name: string, body: (run: StepRun) => Promise<void>];

/**
 * Runs the conformance suite on connections from `makePipe`, one
 * `t.step` per behaviour, each on a fresh pair that `stop` then closes.
 * Go's `nettest.TestConn` behaviours come first: basic I/O, ping-pong,
 * racy reads and writes under 1 ms deadlines, read and write timeouts that
 * leave the other direction alone, past, present and future deadlines,
 * close while operations wait, every method at once. Then netconn's own
 * contract: a deadline moved while a read waits takes effect, concurrent
 * writes never interleave, a timed-out write's count (`bytesWritten`, or
 * `settled` when present) is exactly what the peer receives, a read that
 * timed out loses no bytes, and `closeWrite` (when the conn has it) lets
 * the peer read EOF and still send.
 *
 * A step fails with a message that says what broke ("a read waiting when
 * its deadline was moved earlier did not time out within 2000 ms: the
 * deadline did not end it"). Every step is bounded in time: an operation
 * that hangs fails its step, `stop` is called, and the step waits (up to
 * `waitMs`) for what it started. Over loopback TCP the suite takes a few
 * seconds.
 *
 * @param t The test context (`Deno.TestContext`, or anything with `step`).
 * @param makePipe Makes a fresh pair for each step.
 * @param options The bound on operations that must end.
 * @returns Once every step has run; the failed ones failed through `t`.
 *
 * @example Run the suite over netconn's own pipe()
 * ```ts
 * import { pipe } from "@netconn/netconn";
 * import { testConn } from "@netconn/netconn/testing";
 *
 * Deno.test("pipe() keeps the Conn contract", async (t) => {
 *   await testConn(t, () => {
 *     const [a, b] = pipe();
 *     return Promise.resolve([a, b, () => {
 *       a.close();
 *       b.close();
 *     }]);
 *   });
 * });
 * ```
 */
export async function testConn(
  t: StepContext,
  makePipe: MakePipe,
  options: TestConnOptions = {},
): Promise<void> {
  const waitMs = options.waitMs ?? 2000;
  if (typeof waitMs !== "number" || !(waitMs > 0)) {
    throw new RangeError(`testConn option "waitMs" must be a positive number: received ${waitMs}`);
  }
  for (const [name, body] of [...goSteps, ...contractSteps]) {
    await t.step(name, () => runStep(makePipe, body, waitMs));
  }
}

/**
 * One step: a fresh pair, the body bounded in time, then stop, then every
 * task the step started (the body too) waited for, up to `waitMs`.
 */
async function runStep(makePipe: MakePipe, body: Step[1], waitMs: number): Promise<void> {
  const [a, b, stop] = await mustEnd(makePipe(), 10 * waitMs, "makePipe");
  const tasks = new Tasks();
  let failure: unknown;
  try {
    const running = tasks.spawn(() => body({ a, b, tasks, waitMs }));
    await mustEnd(running, 10 * waitMs, "the step", "an operation hangs");
  } catch (e) {
    failure = e;
  }
  try {
    await stop();
  } catch (e) {
    failure ??= e;
  }
  const left = await tasks.settle(waitMs);
  if (failure === undefined && left > 0) {
    failure = new ConnTestFailure(
      `${left} operation(s) still pending ${waitMs} ms after stop closed both ends: ` +
        "close leaves them hanging",
    );
  }
  if (failure !== undefined) throw failure;
}
