// The read side without sockets: a stand-in for the runtime's reads and the
// kernel's recv, and a fake clock for the deadline. What a conn's reads rely
// on: call order, nothing lost when a deadline ends a read, the kernel first
// when it has data, EOF that stays, and close.

import assert from "node:assert/strict";
import { ClosedError, TimeoutError } from "../../mod.ts";
import { Deadline } from "../../deadline.ts";
import { toNetError } from "../../errors.ts";
import { AGAIN, type KernelCalls, KernelFirst } from "../../_io/kernel_first.ts";
import { Reader } from "../../_io/reader.ts";
import { FakeClock } from "../_fake_clock.ts";
import { mustNotSettle, mustReject, mustSettle } from "../../_kit/wait.ts";

const SITE = { op: "read" as const, source: "127.0.0.1:1", addr: "127.0.0.1:2" };

/** The runtime's side: reads wait until the test sends bytes or EOF. */
class FakeRuntime {
  reads = 0;
  #waiting: { p: Uint8Array; resolve: (n: number | null) => void }[] = [];
  #eof = false;

  read = (p: Uint8Array): Promise<number | null> => {
    this.reads++;
    if (this.#eof) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiting.push({ p, resolve }));
  };

  /** Delivers `bytes` to the runtime read waiting now. */
  send(bytes: number[]): void {
    const w = this.#waiting.shift();
    assert.ok(w, "no runtime read is waiting");
    w.p.set(bytes);
    w.resolve(bytes.length);
  }

  /** The peer closed: the waiting read and later ones return null. */
  end(): void {
    this.#eof = true;
    for (const w of this.#waiting.splice(0)) w.resolve(null);
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}

/** A kernel that has `data` queued for recv. */
class FakeKernel implements KernelCalls {
  fd = 3;
  data: number[] = [];
  recv(p: Uint8Array): number | null {
    if (this.data.length === 0) return AGAIN;
    const n = Math.min(p.length, this.data.length);
    p.set(this.data.splice(0, n));
    return n;
  }
  send(): number {
    return AGAIN;
  }
  abort(): boolean {
    return false;
  }
  hasUnread(): boolean {
    return false;
  }
  forget(): void {
    this.fd = -1;
  }
}

function setup(kernel: KernelFirst | null = null) {
  const clock = new FakeClock();
  const deadline = new Deadline({ clock });
  const runtime = new FakeRuntime();
  const reader = new Reader({
    read: runtime.read,
    kernel: () => kernel,
    deadline,
    error: (failure) => toNetError(failure, SITE, { bytesRead: 0 }),
  });
  return {
    clock,
    deadline,
    runtime,
    reader,
    [Symbol.dispose]: () => {
      reader.close();
      deadline.dispose();
      kernel?.forget();
    },
  };
}

function text(n: number | null, p: Uint8Array): string {
  return n === null ? "EOF" : [...p.subarray(0, n)].join(",");
}

Deno.test("reader: reads are served in call order, one runtime read at a time", async () => {
  using t = setup();
  const [a, b] = [new Uint8Array(4), new Uint8Array(4)];
  const first = t.reader.read(a, undefined);
  const second = t.reader.read(b, undefined);
  await mustNotSettle(first, 10, "a read with no data");
  assert.equal(t.runtime.waiting, 1, "the second read waits its turn, not on the runtime");
  t.runtime.send([1, 2]);
  assert.equal(text(await first, a), "1,2");
  await mustNotSettle(second, 10, "the second read, before more data");
  t.runtime.send([3]);
  assert.equal(text(await second, b), "3");
  assert.equal(t.reader.bytes, 3);
  assert.equal(t.reader.count, 2);
});

Deno.test("reader: bytes beyond the caller's buffer wait for the next read, served at once", async () => {
  using t = setup();
  const small = new Uint8Array(2);
  const read = t.reader.read(small, undefined);
  t.runtime.send([1, 2, 3, 4, 5]);
  assert.equal(text(await read, small), "1,2");
  const reads = t.runtime.reads;
  assert.equal(text(await t.reader.read(small, undefined), small), "3,4");
  assert.equal(text(await t.reader.read(small, undefined), small), "5");
  assert.equal(t.runtime.reads, reads, "no runtime read while bytes were buffered");
});

Deno.test("reader: a read the deadline ends loses nothing: the next read gets the bytes", async () => {
  using t = setup();
  const p = new Uint8Array(8);
  t.deadline.set(t.clock.now() + 50);
  const read = t.reader.read(p, undefined);
  t.clock.advance(50);
  const err = await mustReject(read, TimeoutError);
  assert.equal(err.bytesRead, 0);
  assert.equal(t.runtime.waiting, 1, "the runtime read is left running");
  t.deadline.set(null);
  const next = t.reader.read(p, undefined);
  t.runtime.send([9, 8, 7]);
  assert.equal(text(await next, p), "9,8,7");
  assert.equal(t.runtime.reads, 1, "the next read adopted the one left running");
});

Deno.test("reader: the kernel first when it has data; the runtime when it has none", async () => {
  const socket = new FakeKernel();
  using t = setup(new KernelFirst(socket));
  const p = new Uint8Array(8);
  socket.data = [1, 2, 3];
  assert.equal(text(await t.reader.read(p, undefined), p), "1,2,3");
  assert.equal(t.runtime.reads, 0, "the kernel had it: no runtime read");
  const waiting = t.reader.read(p, undefined);
  await mustNotSettle(waiting, 10, "a read with nothing anywhere");
  assert.equal(t.runtime.reads, 1, "the kernel had nothing: the runtime waits");
  t.runtime.send([4]);
  assert.equal(text(await waiting, p), "4");
});

Deno.test("reader: EOF after the remaining bytes, and it stays", async () => {
  using t = setup();
  const p = new Uint8Array(8);
  const read = t.reader.read(p, undefined);
  t.runtime.send([1]);
  assert.equal(await read, 1);
  const atEnd = t.reader.read(p, undefined);
  t.runtime.end();
  assert.equal(await atEnd, null);
  assert.equal(await t.reader.read(p, undefined), null);
});

Deno.test("reader: close fails the waiting reads and later ones with ClosedError", async () => {
  using t = setup();
  const p = new Uint8Array(8);
  const first = t.reader.read(p, undefined);
  const second = t.reader.read(new Uint8Array(8), undefined);
  t.reader.close();
  await mustReject(second, ClosedError);
  await mustReject(t.reader.read(p, undefined), ClosedError);
  t.runtime.end(); // the runtime fails or ends the read in flight
  await mustSettle(first.catch(() => null), 1000, "the read in flight");
});

Deno.test("reader: a fired signal ends one read, not the next", async () => {
  using t = setup();
  const p = new Uint8Array(8);
  const controller = new AbortController();
  const read = t.reader.read(p, controller.signal);
  controller.abort(new Error("stop"));
  const err = await mustReject(read, Error);
  assert.equal((err as { kind?: string }).kind, "aborted");
  const next = t.reader.read(p, undefined);
  t.runtime.send([5]);
  assert.equal(await next, 1);
});

Deno.test("reader: a runtime read that brings nothing is read again: a read returns a byte", async () => {
  using t = setup();
  const p = new Uint8Array(8);
  const read = t.reader.read(p, undefined);
  t.runtime.send([]); // as a TLS record with no application data
  await mustNotSettle(read, 10, "a read after an empty runtime read");
  t.runtime.send([4, 2]);
  assert.equal(text(await read, p), "4,2");
  assert.equal(t.runtime.reads, 2);
});

Deno.test("reader: close while a runtime read is in flight: the read fails, its buffer untouched", async () => {
  using t = setup();
  const p = new Uint8Array(4).fill(0xee);
  const read = t.reader.read(p, undefined);
  t.reader.close();
  t.runtime.send([1, 2, 3, 4]); // the runtime read completes after close
  await mustReject(read, ClosedError);
  assert.deepEqual([...p], [0xee, 0xee, 0xee, 0xee]);
  assert.equal(t.reader.bytes, 0);
});
