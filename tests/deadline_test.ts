import assert from "node:assert/strict";
import { Deadline, toDeadlineMs } from "../deadline.ts";
import { FakeClock } from "./_fake_clock.ts";

function watched(deadline: Deadline): { fired: () => number; stop: () => void } {
  let count = 0;
  const onExpire = (): void => {
    count++;
  };
  deadline.watch(onExpire);
  return { fired: () => count, stop: () => deadline.unwatch(onExpire) };
}

Deno.test("toDeadlineMs takes Dates, epoch ms and null, and rejects the rest", () => {
  assert.equal(toDeadlineMs(null), 0);
  assert.equal(toDeadlineMs(0), 0);
  assert.equal(toDeadlineMs(new Date(0)), 0);
  assert.equal(toDeadlineMs(1234), 1234);
  assert.equal(toDeadlineMs(-5), -5); // a past time, not "none"
  assert.equal(toDeadlineMs(new Date(98765)), 98765);
  for (const bad of [NaN, Infinity, -Infinity, new Date("nope")]) {
    assert.throws(() => toDeadlineMs(bad), RangeError, String(bad));
  }
  for (const bad of ["1000", undefined, {}, 10n]) {
    assert.throws(() => toDeadlineMs(bad as never), TypeError, String(bad));
  }
});

Deno.test("a deadline fires its watchers once, when it passes", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  deadline.set(clock.now() + 100);
  const w = watched(deadline);
  clock.advance(99);
  assert.equal(w.fired(), 0);
  assert.equal(deadline.expired, false);
  clock.advance(1);
  assert.equal(w.fired(), 1);
  assert.equal(deadline.expired, true);
  clock.advance(1000);
  assert.equal(w.fired(), 1);
});

Deno.test("no deadline never fires and arms no timer", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  const w = watched(deadline);
  clock.advance(10 ** 9);
  assert.equal(w.fired(), 0);
  assert.equal(clock.armed, 0);
  w.stop();
});

Deno.test("setting a deadline arms no timer while nothing waits", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  for (let i = 0; i < 100; i++) deadline.set(clock.now() + 1000 + i);
  assert.equal(clock.armed, 0);
  assert.equal(deadline.time, clock.now() + 1099);
});

Deno.test("moving the deadline later on every operation keeps one timer", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  let fired = 0;
  for (let op = 0; op < 1000; op++) {
    deadline.set(clock.now() + 30_000); // as a Go server does before each read
    const onExpire = (): void => {
      fired++;
    };
    deadline.watch(onExpire);
    clock.advance(10); // the operation completes in 10 ms
    deadline.unwatch(onExpire);
  }
  assert.equal(fired, 0);
  assert.equal(clock.armed, 1);
  // The one timer fires early, finds the deadline moved, re-arms once.
  const w = watched(deadline);
  clock.advance(30_000);
  assert.equal(w.fired(), 1);
  assert.ok(clock.armed <= 3, `armed ${clock.armed} timers`);
});

Deno.test("moving the deadline earlier while waiting takes effect at once", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  deadline.set(clock.now() + 10_000);
  const w = watched(deadline);
  clock.advance(100);
  deadline.set(clock.now() + 50);
  clock.advance(49);
  assert.equal(w.fired(), 0);
  clock.advance(1);
  assert.equal(w.fired(), 1);
});

Deno.test("moving the deadline later while waiting postpones it", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  deadline.set(clock.now() + 100);
  const w = watched(deadline);
  clock.advance(50);
  deadline.set(clock.now() + 500);
  clock.advance(499);
  assert.equal(w.fired(), 0);
  clock.advance(1);
  assert.equal(w.fired(), 1);
});

Deno.test("a deadline in the past fails waiters before set returns", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  const w = watched(deadline);
  deadline.set(clock.now() - 1);
  assert.equal(w.fired(), 1);
  assert.equal(deadline.expired, true);
  // New watchers fail at once until the deadline moves.
  const late = watched(deadline);
  assert.equal(late.fired(), 1);
  deadline.set(clock.now() + 10);
  assert.equal(deadline.expired, false);
  const again = watched(deadline);
  assert.equal(again.fired(), 0);
  clock.advance(10);
  assert.equal(again.fired(), 1);
});

Deno.test("clearing the deadline while waiting means it never fires", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  deadline.set(clock.now() + 100);
  const w = watched(deadline);
  deadline.set(null);
  clock.advance(10_000);
  assert.equal(w.fired(), 0);
  assert.equal(deadline.time, 0);
  assert.equal(deadline.expired, false);
  w.stop();
});

Deno.test("an unwatched waiter is not called", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  deadline.set(clock.now() + 100);
  const w = watched(deadline);
  w.stop();
  clock.advance(200);
  assert.equal(w.fired(), 0);
});

Deno.test("the signal aborts with a TimeoutError when the deadline passes", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  deadline.set(clock.now() + 100);
  const signal = deadline.signal;
  assert.equal(signal.aborted, false);
  clock.advance(100);
  assert.equal(signal.aborted, true);
  assert.ok(signal.reason instanceof DOMException);
  assert.equal(signal.reason.name, "TimeoutError");
  // Still expired: the signal handed out is aborted.
  assert.equal(deadline.signal.aborted, true);
  // Moved: a fresh signal.
  deadline.set(clock.now() + 100);
  const fresh = deadline.signal;
  assert.equal(fresh.aborted, false);
  assert.notEqual(fresh, signal);
  clock.advance(100);
  assert.equal(fresh.aborted, true);
});

Deno.test("dispose releases the timer", () => {
  const clock = new FakeClock();
  const deadline = new Deadline({ clock });
  deadline.set(clock.now() + 100);
  const w = watched(deadline);
  assert.equal(clock.pending, 1);
  deadline.dispose();
  assert.equal(clock.pending, 0);
  w.stop();
});

Deno.test("set rejects bad times and keeps the old deadline", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  deadline.set(clock.now() + 100);
  assert.throws(() => deadline.set(NaN), RangeError);
  assert.throws(() => deadline.set("soon" as never), TypeError);
  assert.equal(deadline.time, clock.now() + 100);
});

Deno.test("a far deadline waits in steps the timer can hold", () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  const day = 24 * 3600 * 1000;
  deadline.set(clock.now() + 60 * day);
  const w = watched(deadline);
  clock.advance(59 * day);
  assert.equal(w.fired(), 0);
  clock.advance(day);
  assert.equal(w.fired(), 1);
});

Deno.test("the system clock fires a real deadline, without keeping the process alive", async () => {
  using deadline = new Deadline();
  deadline.set(Date.now() + 5);
  // The deadline's timer is unref'd: here a timer of the test's keeps the process up.
  const keepAlive = setTimeout(() => {}, 10_000);
  try {
    await new Promise<void>((resolve) => deadline.watch(resolve));
  } finally {
    clearTimeout(keepAlive);
  }
  assert.equal(deadline.expired, true);
});
