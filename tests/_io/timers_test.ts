import assert from "node:assert/strict";
import { cancel, schedule, timerState } from "../../_io/timers.ts";
import { mustSettle } from "../../_kit/wait.ts";

/** Runs `body` while a timer of the test's own keeps the process up (the shared timer is unref'd). */
async function keptAlive<T>(body: () => Promise<T>): Promise<T> {
  const keep = setTimeout(() => {}, 60_000);
  try {
    return await body();
  } finally {
    clearTimeout(keep);
  }
}

Deno.test("scheduled calls fire in order of their due time; cancelled ones never", async () => {
  await keptAlive(async () => {
    const fired: number[] = [];
    const delays = [40, 5, 25, 15, 35, 10, 30, 20, 45, 1];
    let last!: () => void;
    const allFired = new Promise<void>((resolve) => last = resolve);
    const entries = delays.map((ms) =>
      schedule(() => {
        fired.push(ms);
        if (ms === 45) last();
      }, ms)
    );
    cancel(entries[2]!); // 25
    cancel(entries[5]!); // 10
    cancel(entries[2]!); // twice is fine
    await mustSettle(allFired, 5000, "the last scheduled call");
    assert.deepEqual(fired, [1, 5, 15, 20, 30, 35, 40, 45]);
    cancel(entries[0]!); // after it fired: nothing happens
  });
});

Deno.test("calls due together all fire, more than one batch's worth", async () => {
  await keptAlive(async () => {
    let count = 0;
    const n = 1000;
    let done!: () => void;
    const allFired = new Promise<void>((resolve) => done = resolve);
    for (let i = 0; i < n; i++) {
      schedule(() => {
        if (++count === n) done();
      }, 2);
    }
    await mustSettle(allFired, 5000, "1000 calls due at once");
    assert.equal(count, n);
  });
});

Deno.test("cancelling every call leaves no runtime timer armed", () => {
  const before = timerState().entries;
  const entries = Array.from({ length: 10 }, (_, i) => schedule(() => assert.fail("fired"), 1 + i));
  assert.equal(timerState().entries, before + 10);
  assert.equal(timerState().runtimeTimer, true);
  for (const entry of entries) cancel(entry);
  assert.deepEqual(timerState(), { entries: before, runtimeTimer: before > 0 });
});
