// KernelFirst without sockets: a stand-in for the kernel's send and recv,
// and the rules it adds on top: reads skip the kernel 1, 2, 4 … 64 times
// after it had nothing, and a long run of operations that never waited is
// told to yield unless the event loop turned meanwhile.

import assert from "node:assert/strict";
import { AGAIN, type KernelCalls, KernelFirst } from "../../_io/kernel_first.ts";
import { nextTurn } from "../../_io/timers.ts";
import { mustSettle } from "../../_kit/wait.ts";

/** A socket whose recv and send answer from a script; counts the calls. */
class FakeKernel implements KernelCalls {
  fd = 7;
  recvs = 0;
  sends = 0;
  has = 0; // bytes recv can return now
  room = Infinity; // bytes send can take now

  recv(p: Uint8Array): number | null {
    this.recvs++;
    if (this.has === 0) return AGAIN;
    const n = Math.min(p.length, this.has);
    this.has -= n;
    return n;
  }

  send(p: Uint8Array): number {
    this.sends++;
    if (this.room === 0) return AGAIN;
    const n = Math.min(p.length, this.room);
    this.room -= n;
    return n;
  }

  abort(): boolean {
    return true;
  }

  hasUnread(): boolean {
    return false;
  }

  forget(): void {
    this.fd = -1;
  }
}

Deno.test("kernel first: after recv finds nothing, reads skip the kernel 1, 2, 4 … 64 times", () => {
  const socket = new FakeKernel();
  const kernel = new KernelFirst(socket);
  const p = new Uint8Array(8);
  const asked: number[] = []; // the calls that reached the kernel
  for (let call = 0; call < 400; call++) {
    const before = socket.recvs;
    assert.equal(kernel.recv(p), AGAIN);
    if (socket.recvs > before) asked.push(call);
  }
  const gaps = asked.slice(1, 10).map((call, i) => call - asked[i]! - 1);
  assert.deepEqual(gaps, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
  kernel.forget();
});

Deno.test("kernel first: data found, or a runtime read that filled its buffer, ends the skipping", () => {
  const socket = new FakeKernel();
  const kernel = new KernelFirst(socket);
  const p = new Uint8Array(8);
  assert.equal(kernel.recv(p), AGAIN);
  kernel.flowing(); // a runtime read filled its buffer
  socket.has = 3;
  assert.equal(kernel.recv(p), 3); // asked at once, no skip
  assert.equal(socket.recvs, 2);
  assert.equal(kernel.recv(p), AGAIN); // nothing: skip 1 (not 2: data reset the doubling)
  assert.equal(kernel.recv(p), AGAIN);
  assert.equal(socket.recvs, 3);
  kernel.forget();
});

Deno.test("kernel first: a long run that never waits must yield; a turn of the loop ends the run", async () => {
  const socket = new FakeKernel();
  const kernel = new KernelFirst(socket);
  const p = new Uint8Array(1);
  // Without the loop turning, 2 ms of sends that all complete at once.
  const start = performance.now();
  while (!kernel.mustYield) {
    assert.equal(kernel.send(p), 1);
    assert.ok(performance.now() - start < 1000, "mustYield never said yes");
  }
  assert.ok(performance.now() - start >= 2, "it said yes before 2 ms");
  await mustSettle(kernel.yield(), 1000, "the yield");
  assert.equal(kernel.mustYield, false, "a yield ends the run");
  // A run in which the loop turns (as request and response do) never must yield.
  const runStart = performance.now();
  while (performance.now() - runStart < 20) {
    const batch = performance.now();
    for (let i = 0; i < 16; i++) kernel.send(p);
    // A batch the OS did not stall for 2 ms itself must not be told to yield.
    if (performance.now() - batch < 1) {
      assert.equal(kernel.mustYield, false, "the canary saw the loop turn");
    }
    await nextTurn(); // the loop turns: timers run
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  kernel.forget();
});

Deno.test("kernel first: a send the socket could not take whole ends the run", () => {
  const socket = new FakeKernel();
  const kernel = new KernelFirst(socket);
  socket.room = 4;
  assert.equal(kernel.send(new Uint8Array(8)), 4);
  assert.equal(kernel.send(new Uint8Array(8)), AGAIN);
  assert.equal(kernel.mustYield, false);
  kernel.forget();
  assert.equal(kernel.fd, -1);
});
