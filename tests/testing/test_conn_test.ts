// testConn tested against conns that get the contract wrong on purpose:
// wrappers around a good pipe() end, each breaking one promise. Each runs
// the whole suite with a fake test context that records which steps threw
// and why, so the outer test stays green while it asserts that the right
// step failed with a message naming the problem.

import assert from "node:assert/strict";
import { ClosedError, type Conn, type DeadlineTime, pipe, TimeoutError } from "../../mod.ts";
import {
  type ConnUnderTest,
  type MakePipe,
  testConn,
  type TestConnOptions,
} from "../../testing/mod.ts";

/**
 * Runs testConn with a fake `t`; returns each step's failure message, or
 * null if it passed. Fails if a rejection escaped a step.
 */
async function suite(
  makePipe: MakePipe,
  options: TestConnOptions = { waitMs: 300 },
): Promise<Map<string, string | null>> {
  const escaped: unknown[] = [];
  const onUnhandled = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    escaped.push(e.reason);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    const results = await steps(makePipe, options);
    await new Promise((resolve) => setTimeout(resolve, 0)); // let a late rejection show
    assert.deepEqual(escaped.map(String), [], "no rejection escapes a step");
    return results;
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
}

async function steps(
  makePipe: MakePipe,
  options: TestConnOptions,
): Promise<Map<string, string | null>> {
  const results = new Map<string, string | null>();
  const t = {
    async step(name: string, fn: () => Promise<void>): Promise<boolean> {
      try {
        await fn();
        results.set(name, null);
        return true;
      } catch (e) {
        results.set(name, e instanceof Error ? e.message : String(e));
        return false;
      }
    },
  };
  await testConn(t, makePipe, options);
  return results;
}

/** A pipe whose `a` end is `wrap(a)`. */
function wrapped(wrap: (c: Conn) => ConnUnderTest): MakePipe {
  return () => {
    const [a, b] = pipe();
    return Promise.resolve([wrap(a), b, async () => {
      await a[Symbol.asyncDispose]();
      await b[Symbol.asyncDispose]();
    }]);
  };
}

/** A conn that passes everything to a good one; the broken ones override a method. */
class Wrapper implements ConnUnderTest {
  constructor(readonly inner: Conn) {}
  read(p: Uint8Array): Promise<number | null> {
    return this.inner.read(p);
  }
  write(p: Uint8Array): Promise<number> {
    return this.inner.write(p);
  }
  setDeadline(t: DeadlineTime): void {
    this.setReadDeadline(t);
    this.setWriteDeadline(t);
  }
  setReadDeadline(t: DeadlineTime): void {
    this.inner.setReadDeadline(t);
  }
  setWriteDeadline(t: DeadlineTime): void {
    this.inner.setWriteDeadline(t);
  }
  closeWrite(): Promise<void> {
    return this.inner.closeWrite();
  }
  close(): void {
    this.inner.close();
  }
  get localAddr(): unknown {
    return this.inner.localAddr;
  }
  get remoteAddr(): unknown {
    return this.inner.remoteAddr;
  }
}

/** The read deadline is checked only when a read starts: it never wakes one that waits. */
class LazyDeadline extends Wrapper {
  #readAt = 0;
  override setReadDeadline(t: DeadlineTime): void {
    this.#readAt = t instanceof Date ? t.getTime() : t ?? 0;
  }
  override read(p: Uint8Array): Promise<number | null> {
    if (this.#readAt !== 0 && Date.now() >= this.#readAt) {
      return Promise.reject(new TimeoutError({ op: "read" }));
    }
    return this.inner.read(p);
  }
}

/** Each write goes out in 4 KiB pieces, one awaited after the other: concurrent writes mix. */
class PiecemealWrites extends Wrapper {
  override async write(p: Uint8Array): Promise<number> {
    for (let off = 0; off < p.length; off += 4096) {
      await this.inner.write(p.slice(off, off + 4096));
    }
    return p.length;
  }
}

/** After a read times out, the next bytes that come are dropped. */
class LossyTimeout extends Wrapper {
  #drop = false;
  override async read(p: Uint8Array): Promise<number | null> {
    if (this.#drop) {
      this.#drop = false;
      if (await this.inner.read(new Uint8Array(p.length)) === null) return null;
    }
    try {
      return await this.inner.read(p);
    } catch (e) {
      if (e instanceof TimeoutError) this.#drop = true;
      throw e;
    }
  }
}

/** Close closes the conn, but reads and writes pending then never settle. */
class HangOnClose extends Wrapper {
  #closed = false;
  #hang<T>(op: Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      op.then(resolve, (e) => {
        if (!this.#closed) reject(e);
      });
    });
  }
  override read(p: Uint8Array): Promise<number | null> {
    return this.#hang(this.inner.read(p));
  }
  override write(p: Uint8Array): Promise<number> {
    return this.#hang(this.inner.write(p));
  }
  override close(): void {
    this.#closed = true;
    this.inner.close();
  }
}

/** Deadlines are taken and ignored: nothing ever times out. */
class IgnoresDeadlines extends Wrapper {
  override setReadDeadline(): void {}
  override setWriteDeadline(): void {}
}

/** closeWrite closes both ways. */
class CloseWriteClosesAll extends Wrapper {
  override closeWrite(): Promise<void> {
    this.inner.close();
    return Promise.resolve();
  }
}

/** After close, reads (the one pending, and every later one at once) return a full buffer. */
class DataAfterClose extends Wrapper {
  #closed = false;
  override read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.resolve(p.fill(1).length);
    return this.inner.read(p).catch((e) => {
      if (this.#closed) return p.fill(1).length;
      throw e;
    });
  }
  override close(): void {
    this.#closed = true;
    this.inner.close();
  }
}

/** A read never waits: it resolves at once with a full buffer of zeros, before and after close. */
class EagerRead extends Wrapper {
  override read(p: Uint8Array): Promise<number | null> {
    return Promise.resolve(p.fill(0).length);
  }
}

/** A write sends every byte but resolves with one less. */
class ShortCount extends Wrapper {
  override async write(p: Uint8Array): Promise<number> {
    return await this.inner.write(p) - 1;
  }
}

/** A deadline set 10 ms or more ahead fires 500 ms late. */
class LateDeadlines extends Wrapper {
  #late(t: DeadlineTime): DeadlineTime {
    const at = t instanceof Date ? t.getTime() : t ?? 0;
    return at !== 0 && at - Date.now() >= 10 ? at + 500 : t;
  }
  override setReadDeadline(t: DeadlineTime): void {
    this.inner.setReadDeadline(this.#late(t));
  }
  override setWriteDeadline(t: DeadlineTime): void {
    this.inner.setWriteDeadline(this.#late(t));
  }
}

function failures(results: Map<string, string | null>): string[] {
  return [...results].filter(([, m]) => m !== null).map(([name, m]) => `${name}: ${m}`);
}

Deno.test("testConn: a good pipe passes every step", async () => {
  const results = await suite(wrapped((c) => new Wrapper(c)));
  assert.equal(results.size, 16);
  assert.deepEqual(failures(results), []);
});

Deno.test("testConn: a deadline that does not wake a pending read fails, saying so", async () => {
  const results = await suite(wrapped((c) => new LazyDeadline(c)));
  assert.match(
    results.get("a deadline moved while a read waits takes effect") ?? "passed",
    /a read waiting when its deadline was moved earlier did not time out within \d+ ms: the deadline did not end it/,
  );
  assert.match(
    results.get("a deadline set in the past ends waiting reads and writes") ?? "passed",
    /a read waiting when its deadline was set in the past did not time out/,
  );
  assert.equal(results.get("concurrent writes never interleave"), null, "unrelated steps pass");
});

Deno.test("testConn: writes that interleave fail, saying so", async () => {
  const results = await suite(wrapped((c) => new PiecemealWrites(c)));
  assert.match(
    results.get("concurrent writes never interleave") ?? "passed",
    /concurrent writes interleaved: at byte \d+ a message of 131072 bytes \(value \d+\) was cut by another write's bytes/,
  );
  assert.equal(results.get("a read that timed out loses no bytes"), null, "unrelated steps pass");
});

Deno.test("testConn: a read that loses bytes after a timeout fails, saying so", async () => {
  const results = await suite(wrapped((c) => new LossyTimeout(c)));
  assert.match(
    results.get("a read that timed out loses no bytes") ?? "passed",
    /bytes were lost/,
  );
  assert.equal(results.get("concurrent writes never interleave"), null, "unrelated steps pass");
});

Deno.test("testConn: close that leaves an operation hanging fails, saying so", async () => {
  const results = await suite(wrapped((c) => new HangOnClose(c)));
  assert.match(
    results.get("close ends waiting reads and writes") ?? "passed",
    /a (read|write) pending when the conn closed did not end within \d+ ms: close left it hanging/,
  );
  assert.equal(results.get("a read that timed out loses no bytes"), null, "unrelated steps pass");
});

Deno.test("testConn: a bad waitMs is a RangeError before any step", async () => {
  let steps = 0;
  const t = { step: () => Promise.resolve(++steps > 0) };
  await assert.rejects(() => testConn(t, wrapped((c) => c), { waitMs: 0 }), RangeError);
  assert.equal(steps, 0);
});

Deno.test("testConn: a conn that ignores deadlines fails the deadline steps, and nothing escapes", async () => {
  const results = await suite(wrapped((c) => new IgnoresDeadlines(c)));
  assert.match(
    results.get("a read timeout leaves writes alone") ?? "passed",
    /a read at a passed read deadline did not time out within \d+ ms: the deadline did not end it/,
  );
  assert.match(
    results.get("a past deadline fails new reads and writes") ?? "passed",
    /a write at a passed deadline resolved with 1024; want a timeout error/,
  );
  assert.match(
    results.get("a deadline moved while a read waits takes effect") ?? "passed",
    /did not time out within \d+ ms: the deadline did not end it/,
  );
  assert.equal(results.get("basic I/O"), null, "unrelated steps pass");
});

Deno.test("testConn: closeWrite that closes both ways fails the half-close step, saying so", async () => {
  const results = await suite(wrapped((c) => new CloseWriteClosesAll(c)));
  assert.match(
    results.get("closeWrite: the peer reads EOF and can still send") ?? "passed",
    /closeWrite closed more than the sending side/,
  );
  assert.equal(results.get("basic I/O"), null, "unrelated steps pass");
});

Deno.test("testConn: a read that returns data at once after close fails, and does not hang", async () => {
  const start = Date.now();
  const results = await suite(wrapped((c) => new DataAfterClose(c)));
  assert.match(
    results.get("close ends waiting reads and writes") ?? "passed",
    /a\.read of 1024 bytes, called after a\.close\(\), resolved with 1024; want an error \(closed means closed\)/,
  );
  assert.ok(Date.now() - start < 60_000, "the suite ended");
});

Deno.test("testConn: a makePipe whose stop never resolves fails each step, which say so, and the suite ends", async () => {
  const opened: Conn[] = [];
  const results = await suite(() => {
    const [a, b] = pipe();
    opened.push(a, b);
    return Promise.resolve([a, b, () => new Promise<void>(() => {})]);
  });
  assert.equal(results.size, 16);
  for (const [name, message] of results) {
    assert.match(
      message ?? "passed",
      /stop did not end within 300 ms: makePipe's stop hangs/,
      name,
    );
  }
  // testConn closed both ends itself.
  for (const c of opened) await assert.rejects(c.read(new Uint8Array(1)), ClosedError);
});

Deno.test("testConn: a write that resolves with p.length - 1 fails, saying what it resolved with", async () => {
  const results = await suite(wrapped((c) => new ShortCount(c)));
  assert.match(
    results.get("basic I/O") ?? "passed",
    /a\.write of 1024 bytes resolved with 1023; want 1024 \(a write resolves once all of p is sent\)/,
  );
});

Deno.test("testConn: deadlines that fire 500 ms late fail with the default bounds, saying how late", async () => {
  const results = await suite(wrapped((c) => new LateDeadlines(c)), { waitMs: 2000 });
  assert.match(
    results.get("a deadline moved while a read waits takes effect") ?? "passed",
    /a read waiting when its deadline was moved earlier timed out 5\d\d ms after its deadline; a deadline may fire at most 100 ms late \(100 ms or 5 × the 20 ms it was set ahead, whichever is larger\)/,
  );
  assert.match(
    results.get("a future deadline ends waiting reads and writes") ?? "passed",
    /timed out 5\d\d ms after its deadline; a deadline may fire at most 250 ms late/,
  );
  assert.equal(results.get("basic I/O"), null, "unrelated steps pass");
});

Deno.test("testConn: a makePipe that throws or resolves with the wrong shape fails each step, saying so", async () => {
  const thrown = await suite(() => {
    throw new Error("no pair today");
  });
  assert.equal(thrown.get("basic I/O"), "no pair today");
  const shape = await suite(() => Promise.resolve([1, 2] as unknown as [Conn, Conn, () => void]));
  assert.match(
    shape.get("basic I/O") ?? "passed",
    /makePipe resolved with 1,2; want \[a, b, stop\]/,
  );
});

Deno.test("testConn: unknown options are a TypeError, bad bounds a RangeError, before any step", async () => {
  let steps = 0;
  const t = { step: () => Promise.resolve(++steps > 0) };
  const make = wrapped((c) => c);
  await assert.rejects(
    () => testConn(t, make, { waitMS: 10 } as unknown as TestConnOptions),
    TypeError,
  );
  await assert.rejects(() => testConn(t, make, { lateMs: -1 }), RangeError);
  await assert.rejects(() => testConn(t, make, { waitMs: Infinity }), RangeError);
  await assert.rejects(() => testConn(t, null as unknown as MakePipe), TypeError);
  assert.equal(steps, 0);
});

Deno.test("testConn: reads that never wait cannot starve the event loop: the suite ends, saying what broke", async () => {
  const results = await suite(wrapped((c) => new EagerRead(c)));
  assert.equal(results.size, 16);
  assert.match(
    results.get("close ends waiting reads and writes") ?? "passed",
    /a\.read of 1024 bytes, called after a\.close\(\), resolved with 1024; want an error/,
  );
  assert.match(
    results.get("a read timeout leaves writes alone") ?? "passed",
    /a read at a passed read deadline resolved with 1024; want a timeout error/,
  );
});
