// Relative timeouts ({ timeout: ms } on read, write, accept, handshake and
// closeWrite), misspelt option keys, and a duration passed where a deadline
// goes. Each timeout is a must-return / must-not-return pair: it does not
// end the operation early, it does end it, and the conn stays usable.

import assert from "node:assert/strict";
import { dial, listen, NetError, TimeoutError } from "../mod.ts";
import { pair, tlsPair } from "../_kit/loopback.ts";
import { mustNotSettle, mustReject, mustSettle } from "../_kit/wait.ts";
import { drain, readAtLeast } from "../_kit/bytes.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("timeout: a read with { timeout } waits that long, then fails; nothing is lost", async () => {
  await using p = await pair();
  const buf = new Uint8Array(8);
  const read = p.server.read(buf, { timeout: 300 });
  await mustNotSettle(read, 100, "a read with a 300 ms timeout, at 100 ms");
  const err = await mustReject(read, TimeoutError, 3000, "the read at its timeout");
  assert.equal(err.timeout, true);
  assert.equal(err.op, "read");
  // The conn stays usable, and bytes that arrive later go to the next read.
  await p.client.write(text("late"));
  assert.equal(new TextDecoder().decode(await readAtLeast(p.server, 4)), "late");
});

Deno.test("timeout: the earlier of the timeout and the deadline wins, both ways", async () => {
  await using p = await pair();
  const buf = new Uint8Array(8);
  p.server.setReadDeadline(Date.now() + 100);
  await mustReject(p.server.read(buf, { timeout: 60_000 }), TimeoutError, 3000, "deadline first");
  p.server.setReadDeadline(Date.now() + 60_000);
  await mustReject(p.server.read(buf, { timeout: 100 }), TimeoutError, 3000, "timeout first");
  p.server.setReadDeadline(null);
  const read = p.server.read(buf, { timeout: 0 }); // 0: no limit
  await mustNotSettle(read, 150, "a read with timeout 0");
  await p.client.write(text("x"));
  assert.equal(await read, 1);
});

Deno.test("timeout: negative has passed already; a signal and a timeout compose", async () => {
  await using p = await pair();
  await mustReject(p.server.read(new Uint8Array(1), { timeout: -1 }), TimeoutError, 1000);
  const controller = new AbortController();
  const read = p.server.read(new Uint8Array(1), { timeout: 60_000, signal: controller.signal });
  controller.abort(new Error("stop"));
  const err = await mustReject(read, NetError, 1000, "the aborted read");
  assert.equal(err.kind, "aborted");
});

Deno.test("timeout: a write to a peer that does not read times out with its count", async () => {
  await using p = await pair();
  const big = new Uint8Array(32 << 20);
  const write = p.client.write(big, { timeout: 300 });
  await mustNotSettle(write, 100, "a blocked write with a 300 ms timeout, at 100 ms");
  const err = await mustReject(write, TimeoutError, 5000, "the write at its timeout");
  // The peer reads everything: the stranded runtime write ends, and its final
  // count is exactly what arrived.
  const reading = drain(p.server);
  const written = await mustSettle(err.settled ?? Promise.resolve(err.bytesWritten), 10_000);
  assert.ok(written > 0 && written < big.length, `bytesWritten ${written}`);
  await p.client.closeWrite();
  assert.equal((await reading).bytes, written);
});

Deno.test("timeout: accept, closeWrite and handshake take { timeout } too", async () => {
  await using ln = listen("127.0.0.1:0");
  const accept = ln.accept({ timeout: 200 });
  await mustNotSettle(accept, 50, "an accept with a 200 ms timeout, at 50 ms");
  await mustReject(accept, TimeoutError, 3000, "the accept at its timeout");
  await using client = await dial(ln.addr);
  await using _server = await mustSettle(ln.accept({ timeout: 5000 }), 5000, "a later accept");
  await mustSettle(client.closeWrite({ timeout: 1000 }), 2000, "closeWrite with nothing queued");
  await using t = await tlsPair();
  assert.deepEqual(await mustSettle(t.client.handshake({ timeout: 5000 }), 6000), {
    alpnProtocol: null,
  });
});

Deno.test("bad input: a misspelt option key is a TypeError naming it; nothing happens", async () => {
  await using p = await pair();
  const buf = new Uint8Array(4);
  const misspelt = { timout: 100 } as unknown as { timeout: number };
  for (
    const [what, call] of [
      ["read", () => p.server.read(buf, misspelt)],
      ["write", () => p.client.write(text("no"), misspelt)],
      ["closeWrite", () => p.client.closeWrite(misspelt)],
      ["accept", () => p.ln.accept(misspelt)],
      ["dial", () => dial(p.ln.addr, misspelt)],
    ] as const
  ) {
    const err = await mustReject(call(), TypeError, 1000, what);
    assert.match(err.message, /"timout"/, what);
  }
  assert.throws(() => listen("127.0.0.1:0", { backlg: 5 } as never), /"backlg"/);
  assert.throws(() => p.client.setKeepAliveConfig({ enabled: true } as never), /"enabled"/);
  await mustReject(p.server.read(buf, { timeout: "100" as never }), TypeError, 1000);
  await mustReject(p.server.read(buf, { timeout: NaN }), RangeError, 1000);
  // Nothing was written, shut or read: bytes still flow both ways.
  await p.client.write(text("ok"));
  assert.equal(new TextDecoder().decode(await readAtLeast(p.server, 2)), "ok");
});

Deno.test("bad input: a duration where a deadline goes is a RangeError that says so", async () => {
  await using p = await pair();
  for (const t of [5000, 1, -1, 99_999_999_999]) {
    assert.throws(() => p.server.setReadDeadline(t), (e) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /Date\.now\(\) [+-] \d/);
      return true;
    });
  }
  assert.throws(() => p.ln.setDeadline(5000), RangeError);
  p.server.setReadDeadline(0); // 0 and null clear it, as in Go
  p.server.setReadDeadline(233431200_000); // Go's "long ago" (1977) is a time
  p.server.setReadDeadline(new Date(5000)); // a Date is taken as it is: long passed
  await mustReject(p.server.read(new Uint8Array(1)), TimeoutError, 1000);
});
