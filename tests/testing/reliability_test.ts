// netconn's own reliability cases, run through FaultProxy instead of staged
// by hand: a read deadline against silence, a write deadline against a
// bandwidth cap with true counts, a frame reader against one-byte slices,
// and a cut mid-write. Loopback.
//
// Run: deno test --allow-net --allow-ffi tests/testing/reliability_test.ts

import assert from "node:assert/strict";
import { TimeoutError } from "../../mod.ts";
import { FrameReader, FrameWriter, UnexpectedEofError } from "../../bufio/mod.ts";
import { mustNotSettle, mustReject, mustSettle } from "../../_kit/wait.ts";
import { through } from "./_through.ts";
import { ramp } from "../../_kit/bytes.ts";

Deno.test("through silence: a read deadline moved while waiting ends the read; no byte lost", async () => {
  await using t = await through([{ kind: "silence", direction: "downstream" }]);
  await t.peer.write(ramp(100));
  const buf = new Uint8Array(100);
  t.client.setReadDeadline(Date.now() + 10_000);
  const read = t.client.read(buf);
  await mustNotSettle(read, 60, "a read against silence, deadline far off");
  t.client.setReadDeadline(Date.now() + 20); // moved while the read waits
  await mustReject(read, TimeoutError, 1000, "the read after the deadline moved");
  t.client.setReadDeadline(null);
  t.proxy.clear();
  let got = 0;
  while (got < 100) got += (await mustSettle(t.client.read(buf.subarray(got)), 1000))!;
  assert.deepEqual(buf, ramp(100), "every byte, in order");
});

Deno.test("through a bandwidth cap: a write deadline fails the write with true counts", async () => {
  await using t = await through([{ kind: "bandwidth", bytesPerSecond: 1_000_000 }]);
  const big = ramp(8 << 20); // more than the kernel buffers on the way hold
  t.client.setWriteDeadline(Date.now() + 300);
  const err = await mustReject(t.client.write(big), TimeoutError, 3000, "a capped write");
  const written = err.bytesWritten ?? 0;
  assert.ok(written < big.length, `blocked: ${written} of ${big.length}`);
  // Lift the cap and read everything: exactly the bytes the error counted arrive.
  t.proxy.clear();
  const received = (async () => {
    const buf = new Uint8Array(256 * 1024);
    let total = 0;
    for (let n = await t.peer.read(buf); n !== null; n = await t.peer.read(buf)) {
      assert.deepEqual(buf.subarray(0, n), big.subarray(total, total + n), `bytes at ${total}`);
      total += n;
    }
    return total;
  })();
  const final = await mustSettle(err.settled ?? Promise.resolve(written), 3000);
  assert.ok(final >= written);
  t.client.setWriteDeadline(null);
  await t.client.closeWrite();
  assert.equal(await mustSettle(received, 3000, "the peer's read to EOF"), final);
});

Deno.test("through one-byte slices: a frame reader gets every frame whole", async () => {
  await using t = await through([{ kind: "slice", size: 1, direction: "downstream" }]);
  const payloads = [0, 1, 7, 100, 300].map((n) => ramp(n));
  const writer = new FrameWriter(t.peer);
  for (const p of payloads) await writer.writeFrame(p);
  await t.peer.closeWrite();
  const frames: Uint8Array[] = [];
  for await (const f of new FrameReader(t.client)) frames.push(f.slice());
  assert.deepEqual(frames, payloads);
});

Deno.test("a cut mid-frame: the reader fails with UnexpectedEofError, the writer completes", async () => {
  await using t = await through([{ kind: "cut", after: 50_000, direction: "downstream" }]);
  const writer = new FrameWriter(t.peer);
  await mustSettle(writer.writeFrame(ramp(100_000)), 1000, "the write past the cut");
  const reader = new FrameReader(t.client);
  await mustReject(reader.readFrame(), UnexpectedEofError, 1000, "reading the cut frame");
});
