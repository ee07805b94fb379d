/**
 * testConn: the conformance suite for a connection, as Go's
 * `nettest.TestConn`, plus netconn's own contract.
 *
 * @module
 */

import type { ConnUnderTest, MakePipe } from "./make_pipe.ts";
import type { Step } from "./_step.ts";
import { goSteps } from "./_go_steps.ts";
import { contractSteps } from "./_contract_steps.ts";
import { ConnTestFailure, describeError, mustEnd, Tasks } from "./_conn_check.ts";
import { guard, Watch } from "./_guard.ts";

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
  /**
   * How late a deadline may fire: a read or write waiting on a deadline
   * must time out no later than max(`lateMs`, 5 × how far ahead the
   * deadline was set) after it.
   * @default {100}
   */
  lateMs?: number;
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
 * A step fails with a message that says what the conn did ("a read waiting
 * when its deadline was moved earlier did not time out within 2000 ms: the
 * deadline did not end it"; "a.write of 1024 bytes resolved with 1023;
 * want 1024"). Whatever the conn does, the suite reports and goes on:
 *
 * - every check runs inside its step, and no rejection escapes a step;
 * - every read, write and closeWrite is watched: a write that resolves
 *   with a count other than `p.length`, a read whose count is outside
 *   0..`p.length`, or an operation started after `close()` that succeeds
 *   fails the step, even where the step expected an error;
 * - every step, `makePipe` and `stop` is bounded in time: a hang fails the
 *   step, naming the operations still pending; if `stop` hangs, testConn
 *   closes both ends itself; a closed conn that returns data at once in a
 *   loop is paced so the step's timers still fire;
 * - a deadline that fires late fails its step: a waiting operation must
 *   time out within max(`lateMs`, 5 × how far ahead the deadline was set).
 *
 * Over loopback TCP the suite takes a few seconds.
 *
 * @param t The test context (`Deno.TestContext`, or anything with `step`).
 * @param makePipe Makes a fresh pair for each step.
 * @param options The bounds on operations that must end and on late deadlines.
 * @returns Once every step has run; the failed ones failed through `t`.
 * @throws {RangeError} If `waitMs` or `lateMs` is not a positive number; no step runs.
 * @throws {TypeError} If `options` has a key testConn does not know.
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
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`testConn takes an options object: received ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (key !== "waitMs" && key !== "lateMs") {
      throw new TypeError(`testConn has no option "${key}" (it takes waitMs, lateMs)`);
    }
  }
  const waitMs = positive(options.waitMs ?? 2000, "waitMs");
  const lateMs = positive(options.lateMs ?? 100, "lateMs");
  if (typeof makePipe !== "function") {
    throw new TypeError(`testConn takes a makePipe function: received ${String(makePipe)}`);
  }
  for (const [name, body] of [...goSteps, ...contractSteps]) {
    await t.step(name, () => runStep(makePipe, body, waitMs, lateMs));
  }
}

function positive(value: unknown, name: string): number {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `testConn option "${name}" must be a positive number: received ${String(value)}`,
    );
  }
  return value;
}

/**
 * One step: a fresh pair, the body bounded in time, then stop (bounded
 * too), then every task and operation the step started waited for, up to
 * `waitMs`. The first broken promise the guard saw is the step's failure.
 */
async function runStep(
  makePipe: MakePipe,
  body: Step[1],
  waitMs: number,
  lateMs: number,
): Promise<void> {
  const made = await mustEnd(
    Promise.resolve().then(makePipe),
    10 * waitMs,
    "makePipe",
    "it never resolved",
  );
  if (
    !Array.isArray(made) || made.length < 3 || typeof made[2] !== "function" ||
    !isConn(made[0]) || !isConn(made[1])
  ) {
    throw new ConnTestFailure(
      `makePipe resolved with ${describeError(made)}; want [a, b, stop]: two conns and a function`,
    );
  }
  const [rawA, rawB, stop] = made;
  const watch = new Watch();
  const a = guard(rawA, "a", watch);
  const b = guard(rawB, "b", watch);
  const tasks = new Tasks();
  let failure: unknown;
  try {
    const running = tasks.spawn(() => body({ a, b, tasks, waitMs, lateMs }));
    const bound = 10 * waitMs;
    await mustEnd(running, bound, "the step").catch((e) => {
      if (!(e instanceof ConnTestFailure) || !e.message.startsWith("the step did not end")) throw e;
      const pending = watch.pending;
      throw new ConnTestFailure(
        `the step did not end within ${bound} ms: an operation hangs` +
          (pending.length > 0 ? ` (pending: ${summary(pending)})` : ""),
      );
    });
  } catch (e) {
    failure = e;
  }
  try {
    await mustEnd(Promise.resolve().then(stop), waitMs, "stop", "makePipe's stop hangs");
  } catch (e) {
    failure ??= e;
    for (const conn of [rawA, rawB]) {
      try {
        conn.close(); // stop failed or hung: close both ends here, so the step ends
      } catch {
        // Its own failure is reported above.
      }
    }
  }
  watch.over = true; // from now on the conns' operations fail at once: no loop outlives the step
  const left = await tasks.settle(waitMs);
  const pending = await watch.settle(waitMs);
  if (watch.violation !== undefined) throw watch.violation;
  if (failure === undefined && (left > 0 || pending.length > 0)) {
    failure = new ConnTestFailure(
      `${Math.max(left, pending.length)} operation(s) still pending ${waitMs} ms after stop ` +
        `closed both ends: close leaves them hanging` +
        (pending.length > 0 ? ` (${summary(pending)})` : ""),
    );
  }
  if (failure !== undefined) throw failure;
}

function isConn(c: unknown): c is ConnUnderTest {
  return typeof c === "object" && c !== null &&
    typeof (c as ConnUnderTest).read === "function" &&
    typeof (c as ConnUnderTest).write === "function" &&
    typeof (c as ConnUnderTest).close === "function";
}

/** Names of pending operations, the first few. */
function summary(names: string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  const parts = [...counts].slice(0, 4).map(([n, k]) => k > 1 ? `${k} × ${n}` : n);
  return parts.join(", ") + (counts.size > 4 ? ", …" : "");
}
