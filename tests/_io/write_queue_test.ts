import assert from "node:assert/strict";
import { ClosedError, NetError, TimeoutError } from "../../mod.ts";
import { Deadline } from "../../deadline.ts";
import { WriteQueue } from "../../_io/write_queue.ts";
import { MAX_CHUNK } from "../../_io/chunk_pool.ts";
import { FakeClock } from "../_fake_clock.ts";

/**
 * A socket stand-in. It accepts up to `room` bytes per runtime write at once;
 * with no room a write waits for `drain`. Like Deno's runtime it reads the
 * chunk when it sends, not when the write is issued, so a test can see
 * whether a caller's buffer was read after its call returned.
 */
class FakeSocket {
  wire: number[] = [];
  room: number;
  writesIssued = 0;
  #waiting: { chunk: Uint8Array; resolve: (n: number) => void; reject: (e: unknown) => void }[] =
    [];
  #failNext: unknown = null;

  constructor(room = Infinity) {
    this.room = room;
  }

  write = (chunk: Uint8Array): Promise<number> => {
    this.writesIssued++;
    if (this.#failNext !== null) {
      const e = this.#failNext;
      this.#failNext = null;
      return Promise.reject(e);
    }
    if (this.room > 0 && this.#waiting.length === 0) return Promise.resolve(this.#send(chunk));
    return new Promise((resolve, reject) => this.#waiting.push({ chunk, resolve, reject }));
  };

  /** Makes room for `n` more bytes and lets waiting writes send. */
  drain(n: number): void {
    this.room += n;
    while (this.room > 0 && this.#waiting.length > 0) {
      const w = this.#waiting.shift()!;
      w.resolve(this.#send(w.chunk));
    }
  }

  /** The next runtime write fails with `e`. */
  failNext(e: unknown): void {
    this.#failNext = e;
  }

  /** Fails the waiting runtime writes with `e`. */
  failWaiting(e: unknown): void {
    for (const w of this.#waiting.splice(0)) w.reject(e);
  }

  /** Fails the waiting runtime writes, as Deno does when the conn closes. */
  interrupt(): void {
    this.failWaiting(new Deno.errors.Interrupted("operation canceled"));
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  #send(chunk: Uint8Array): number {
    const n = Math.min(chunk.length, this.room);
    for (let i = 0; i < n; i++) this.wire.push(chunk[i]!);
    this.room -= n;
    return n;
  }
}

function setup(room = Infinity) {
  const clock = new FakeClock();
  const deadline = new Deadline({ clock });
  const socket = new FakeSocket(room);
  const queue = new WriteQueue(socket.write, {
    deadline,
    site: { op: "write", source: "127.0.0.1:1", addr: "127.0.0.1:2" },
    now: () => clock.now(),
    defer: (fn) => {
      clock.setTimeout(fn, 0);
    },
  });
  return { clock, deadline, socket, queue, [Symbol.dispose]: () => deadline.dispose() };
}

function bytes(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

/** Lets queued promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Writes `p` with a deadline `ms` ahead, lets the deadline pass, and returns the write's TimeoutError. */
async function timedOut(
  t: ReturnType<typeof setup>,
  p: Uint8Array,
  ms: number,
): Promise<TimeoutError> {
  t.deadline.set(t.clock.now() + ms);
  const write = t.queue.write(p);
  await settle();
  t.clock.advance(ms);
  const err = await write.catch((e) => e);
  assert.ok(err instanceof TimeoutError, String(err));
  return err;
}

Deno.test("a write resolves with its length once every byte is accepted", async () => {
  using t = setup(100);
  const p = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
  const done = t.queue.write(p);
  for (let i = 0; i < 9; i++) {
    await settle();
    t.socket.drain(100);
  }
  assert.equal(await done, 1000);
  assert.deepEqual(t.socket.wire, [...p]);
  assert.equal(t.queue.bytes, 1000);
  assert.equal(t.queue.ops, 1);
});

Deno.test("concurrent writes are contiguous and in call order", async () => {
  for (const room of [1, 7, 64, 1000]) {
    using t = setup(room);
    const frames = Array.from({ length: 20 }, (_, i) => bytes(50 + i * 3, i + 1));
    const writes = frames.map((f) => t.queue.write(f));
    assert.equal(t.queue.depth, 20);
    while (t.socket.wire.length < frames.reduce((s, f) => s + f.length, 0)) {
      await settle();
      t.socket.drain(room);
    }
    assert.deepEqual(await Promise.all(writes), frames.map((f) => f.length));
    assert.deepEqual(t.socket.wire, frames.flatMap((f) => [...f]), `room ${room}`);
    assert.equal(t.queue.depth, 0);
  }
});

Deno.test("a write larger than the chunk size is split but stays whole", async () => {
  using t = setup();
  const p = Uint8Array.from({ length: MAX_CHUNK * 2 + 17 }, (_, i) => (i * 7) & 255);
  assert.equal(await t.queue.write(p), p.length);
  assert.equal(t.socket.writesIssued, 3);
  assert.deepEqual(new Uint8Array(t.socket.wire), p);
});

Deno.test("a timed-out write reports the bytes accepted, then settles with the final count", async () => {
  using t = setup(300);
  const err = await timedOut(t, bytes(1000, 9), 100);
  assert.equal(err.bytesWritten, 300);
  assert.ok(err.settled instanceof Promise);
  // The runtime write in flight sends later; the count becomes known then.
  t.socket.drain(200);
  assert.equal(await err.settled, 500);
  assert.equal(t.socket.wire.length, 500);
});

Deno.test("a buffer is never read after its write returned", async () => {
  using t = setup(0);
  const p = bytes(100, 1);
  const err = await timedOut(t, p, 10);
  p.fill(2); // the caller reuses its buffer
  t.socket.drain(100);
  assert.equal(await err.settled, 100);
  assert.deepEqual(t.socket.wire, [...bytes(100, 1)]);
});

Deno.test("no later write starts while a stranded write is unsettled", async () => {
  using t = setup(0);
  const err = await timedOut(t, bytes(10, 1), 10);
  t.deadline.set(null);
  const second = t.queue.write(bytes(10, 2));
  await settle();
  assert.equal(t.socket.writesIssued, 1, "the second write waits for the stranded one");
  assert.equal(t.queue.depth, 2);
  t.socket.drain(20);
  assert.equal(await err.settled, 10);
  assert.equal(await second, 10);
  assert.deepEqual(t.socket.wire, [...bytes(10, 1), ...bytes(10, 2)]);
});

Deno.test("writes waiting in line fail with 0 bytes when the deadline passes", async () => {
  using t = setup(0);
  t.deadline.set(t.clock.now() + 50);
  const writes = [1, 2, 3].map((i) => t.queue.write(bytes(10, i)).catch((e) => e));
  await settle();
  t.clock.advance(50);
  const [first, ...rest] = await Promise.all(writes);
  assert.ok(first instanceof TimeoutError);
  assert.equal(first.bytesWritten, 0);
  assert.ok(first.settled instanceof Promise);
  for (const e of rest) {
    assert.ok(e instanceof TimeoutError);
    assert.equal(e.bytesWritten, 0);
    assert.equal(e.settled, undefined);
  }
  assert.equal(t.socket.writesIssued, 1);
  t.socket.drain(10);
  assert.equal(await first.settled, 10);
  assert.equal(t.queue.depth, 0);
});

Deno.test("a write after the deadline passed fails at once, touching nothing", async () => {
  using t = setup();
  t.deadline.set(t.clock.now() - 1);
  const err = await t.queue.write(bytes(5, 1)).catch((e) => e);
  assert.ok(err instanceof TimeoutError);
  assert.equal(err.bytesWritten, 0);
  assert.equal(t.socket.writesIssued, 0);
});

Deno.test("an aborted waiting write leaves the line; the others go on", async () => {
  using t = setup(0);
  const controller = new AbortController();
  const first = t.queue.write(bytes(3, 1));
  const second = t.queue.write(bytes(3, 2), controller.signal).catch((e) => e);
  const third = t.queue.write(bytes(3, 3));
  await settle();
  const reason = new Error("caller gave up");
  controller.abort(reason);
  const err = await second;
  assert.ok(err instanceof NetError);
  assert.equal(err.kind, "aborted");
  assert.equal(err.cause, reason);
  assert.equal(err.bytesWritten, 0);
  t.socket.drain(6);
  assert.equal(await first, 3);
  assert.equal(await third, 3);
  assert.deepEqual(t.socket.wire, [1, 1, 1, 3, 3, 3]);
});

Deno.test("a signal with a timeout reason gives a TimeoutError", async () => {
  using t = setup(0);
  const controller = new AbortController();
  const write = t.queue.write(bytes(4, 1), controller.signal);
  await settle();
  controller.abort(new DOMException("late", "TimeoutError"));
  t.clock.advance(0); // the turn a runtime write the kernel took at once would settle in
  const err = await write.catch((e) => e);
  assert.ok(err instanceof TimeoutError);
  assert.equal((err.cause as DOMException).name, "TimeoutError");
  t.socket.drain(4);
  assert.equal(await err.settled, 4);
});

Deno.test("close fails waiting writes with ClosedError and the runtime fails the one in flight", async () => {
  using t = setup(5);
  const first = t.queue.write(bytes(20, 1)).catch((e) => e);
  const second = t.queue.write(bytes(20, 2)).catch((e) => e);
  await settle();
  t.queue.close();
  t.socket.interrupt();
  const [a, b] = await Promise.all([first, second]);
  assert.ok(a instanceof ClosedError);
  assert.equal(a.bytesWritten, 5);
  assert.ok(b instanceof ClosedError);
  assert.equal(b.bytesWritten, 0);
  const later = await t.queue.write(bytes(1, 3)).catch((e) => e);
  assert.ok(later instanceof ClosedError);
  assert.ok(later.message.includes("use of closed network connection"));
});

Deno.test("a runtime error fails that write with its count; the next write meets its own", async () => {
  using t = setup(4);
  const first = t.queue.write(bytes(10, 1)).catch((e) => e);
  await settle();
  t.socket.failWaiting(new Deno.errors.ConnectionReset("Connection reset by peer"));
  const err = await first;
  assert.ok(err instanceof NetError);
  assert.equal(err.kind, "reset");
  assert.equal(err.bytesWritten, 4);
  assert.ok(err.cause instanceof Deno.errors.ConnectionReset);
  t.socket.failNext(new Deno.errors.BrokenPipe("Broken pipe"));
  const next = await t.queue.write(bytes(3, 2)).catch((e) => e);
  assert.equal(next.kind, "broken-pipe");
  assert.equal(next.bytesWritten, 0);
});

Deno.test("an empty write resolves 0 without a runtime write", async () => {
  using t = setup();
  assert.equal(await t.queue.write(new Uint8Array(0)), 0);
  assert.equal(t.socket.writesIssued, 0);
});

Deno.test("time blocked counts only waits for a full socket", async () => {
  using t = setup(10);
  await t.queue.write(bytes(10, 1)); // fits: no block
  assert.equal(t.queue.blockedMs, 0);
  t.socket.room = 5;
  const write = t.queue.write(bytes(10, 2));
  await settle();
  t.clock.advance(40);
  t.socket.drain(5);
  await write;
  assert.equal(t.queue.blockedMs, 40);
});

Deno.test("inTurn runs after the writes before it and before those after", async () => {
  using t = setup(0);
  let seen = -1;
  const first = t.queue.write(bytes(2, 1));
  const action = t.queue.inTurn(() => {
    seen = t.socket.wire.length;
    return Promise.resolve();
  });
  const second = t.queue.write(bytes(2, 2));
  await settle();
  assert.equal(seen, -1, "the action waits for the write before it");
  t.socket.drain(4);
  await Promise.all([first, action, second]);
  assert.equal(seen, 2, "the action ran after write 1 and before write 2");
});

Deno.test("small writes queued behind one in progress go out in one runtime write", async () => {
  using t = setup(0);
  const first = t.queue.write(bytes(10, 1));
  const frames = [3, 7, 1, 12, 5].map((n, i) => bytes(n, i + 2));
  const writes = frames.map((f) => t.queue.write(f));
  assert.equal(t.queue.depth, 6);
  await settle();
  assert.equal(t.socket.writesIssued, 1);
  t.socket.drain(10 + 28);
  assert.equal(await first, 10);
  assert.deepEqual(await Promise.all(writes), [3, 7, 1, 12, 5]);
  assert.equal(t.socket.writesIssued, 2, "the five waiting writes were one runtime write");
  assert.deepEqual(t.socket.wire, [...bytes(10, 1), ...frames.flatMap((f) => [...f])]);
  assert.equal(t.queue.depth, 0);
  assert.equal(t.queue.ops, 6);
  assert.equal(t.queue.bytes, 38);
});

Deno.test("a write with a signal or over 16 KiB keeps its place: later writes queue behind it", async () => {
  using t = setup(0);
  const signal = new AbortController().signal;
  const order = [
    t.queue.write(bytes(4, 1)),
    t.queue.write(bytes(4, 2)),
    t.queue.write(bytes(4, 3), signal),
    t.queue.write(bytes(4, 4)),
    t.queue.write(bytes(16 * 1024 + 1, 5)),
    t.queue.write(bytes(4, 6)),
  ];
  const total = 5 * 4 + 16 * 1024 + 1;
  while (t.socket.wire.length < total) {
    await settle();
    t.socket.drain(1000);
  }
  await Promise.all(order);
  const runs = t.socket.wire.filter((b, i, all) => i === 0 || all[i - 1] !== b);
  assert.deepEqual(runs, [1, 2, 3, 4, 5, 6]);
});

Deno.test("a deadline inside a batch: each write reports its own count, then its own final count", async () => {
  using t = setup(0);
  t.deadline.set(t.clock.now() + 100);
  const first = t.queue.write(bytes(10, 1));
  const [a, b, c] = [2, 3, 4].map((i) => t.queue.write(bytes(10, i)).catch((e) => e));
  await settle();
  t.socket.drain(10); // the first write; the batch (30 bytes) starts
  assert.equal(await first, 10);
  await settle();
  t.socket.drain(15); // a whole, 5 bytes of b
  await settle();
  t.clock.advance(100);
  assert.equal(await a, 10);
  const [errB, errC] = await Promise.all([b, c]);
  for (const e of [errB, errC]) assert.ok(e instanceof TimeoutError);
  assert.equal(errB.bytesWritten, 5);
  assert.equal(errC.bytesWritten, 0);
  t.socket.drain(8); // the stranded runtime write sends 8 more: b's last 5, c's first 3
  assert.equal(await errB.settled, 10);
  assert.equal(await errC.settled, 3);
  assert.equal(t.queue.depth, 0);
});

Deno.test("a runtime error inside a batch fails each unsent write with its own count", async () => {
  using t = setup(0);
  const first = t.queue.write(bytes(4, 1));
  const [a, b] = [2, 3].map((i) => t.queue.write(bytes(6, i)).catch((e) => e));
  await settle();
  t.socket.drain(4 + 2);
  assert.equal(await first, 4);
  await settle();
  t.socket.failWaiting(new Deno.errors.ConnectionReset("Connection reset by peer"));
  const [errA, errB] = await Promise.all([a, b]);
  for (const e of [errA, errB]) {
    assert.ok(e instanceof NetError);
    assert.equal(e.kind, "reset");
  }
  assert.equal(errA.bytesWritten, 2);
  assert.equal(errB.bytesWritten, 0);
  assert.notEqual(errA, errB, "each write meets its own error");
});

Deno.test("a runtime write that throws at once fails that write, and the next one goes out", async () => {
  const clock = new FakeClock();
  using deadline = new Deadline({ clock });
  let calls = 0;
  const wire: number[] = [];
  const queue = new WriteQueue((chunk) => {
    if (++calls === 1) throw new Deno.errors.BrokenPipe("throws at once");
    wire.push(...chunk);
    return Promise.resolve(chunk.length);
  }, { deadline, site: { op: "write", source: "127.0.0.1:1", addr: "127.0.0.1:2" } });
  const err = await queue.write(bytes(3, 1)).catch((e) => e);
  assert.ok(err instanceof NetError, String(err));
  assert.equal(err.bytesWritten, 0);
  assert.equal(await queue.write(bytes(2, 2)), 2, "the write turn was passed on");
  assert.deepEqual(wire, [2, 2]);
});
