/**
 * testConn: the conformance suite for a connection, as Go's
 * `nettest.TestConn`, plus netconn's own contract.
 *
 * @module
 */

import type { MakePipe } from "./conn_under_test.ts";
import type { Step } from "./_step.ts";
import { goSteps } from "./_go_steps.ts";
import { contractSteps } from "./_contract_steps.ts";
import { ConnTestFailure, mustEnd, Tasks } from "./_conn_check.ts";

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
