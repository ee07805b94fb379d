// testConn tested against conns that get the contract wrong on purpose:
// wrappers around a good pipe() end, each breaking one promise. Each runs
// the whole suite with a fake test context that records which steps threw
// and why, so the outer test stays green while it asserts that the right
// step failed with a message naming the problem.

import assert from "node:assert/strict";
import { type Conn, type DeadlineTime, pipe, TimeoutError } from "../../mod.ts";
import { type ConnUnderTest, type MakePipe, testConn } from "../../testing/mod.ts";

/** Runs testConn with a fake `t`; returns each step's failure message, or null if it passed. */
async function suite(makePipe: MakePipe): Promise<Map<string, string | null>> {
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
  await testConn(t, makePipe, { waitMs: 300 });
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
