// Tests for FaultProxy: each fault measured through a real conn on loopback
// (latency and bandwidth within 10% of what was asked, slices of the size
// asked, silence that holds until removed), cut, reset, refuse and slow
// close, faults added and removed on open conns, stats, and bad arguments.
// Timing is asserted in must-return / must-not-return pairs, with growing
// timeouts where the machine's load could blur a figure.
//
// Run: deno test --allow-net --allow-ffi --allow-read --allow-run tests/testing/

import assert from "node:assert/strict";
import { type Conn, dial, listen, NetError, TimeoutError } from "../../mod.ts";
import { FaultProxy } from "../../testing/mod.ts";
import { delay, eventually, mustNotSettle, mustReject, mustSettle } from "../../_kit/wait.ts";
import { roundTrip, through } from "./_through.ts";
import { ramp } from "../../_kit/bytes.ts";
import { mean } from "../../_kit/stats.ts";

/** Asserts `got` is within `pct` percent of `want`. */
function near(got: number, want: number, what: string, pct = 10): void {
  const off = Math.abs(got - want) / want * 100;
  assert.ok(
    off <= pct,
    `${what}: asked ${want}, measured ${got.toFixed(1)} (${off.toFixed(1)}% off)`,
  );
}

/** Waits, with growing pauses up to about 1 s in all, until `cond` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  await eventually(async (ms) => {
    if (!cond()) await delay(ms);
    assert.ok(cond(), `${what}: not within ${ms} ms`);
  }, { start: 5, cap: 200 });
}

/** Reads everything until EOF; returns the sizes of the reads. */
async function readSizes(conn: { read(p: Uint8Array): Promise<number | null> }): Promise<number[]> {
  const sizes: number[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) sizes.push(n);
  return sizes;
}

// ---- latency ----------------------------------------------------------------

Deno.test("latency: one way and both ways, within 10% of what was asked", async () => {
  await using t = await through();
  await eventually(async () => {
    const id = t.proxy.add({ kind: "latency", ms: 40, direction: "upstream" });
    const up: number[] = [];
    for (let i = 0; i < 4; i++) up.push(await roundTrip(t.client, t.peer));
    t.proxy.remove(id);
    near(mean(up), 40, "upstream latency");
    const back: number[] = [];
    const id2 = t.proxy.add({ kind: "latency", ms: 40, direction: "downstream" });
    for (let i = 0; i < 4; i++) back.push(await roundTrip(t.peer, t.client));
    t.proxy.remove(id2);
    near(mean(back), 40, "downstream latency");
    // Unfaulted ways stay fast.
    assert.ok(await roundTrip(t.peer, t.client) < 20, "downstream without latency");
  }, { start: 1, cap: 3 });
});

Deno.test("latency: jitter spreads each chunk's delay over ms ± jitter", async () => {
  await using t = await through([{ kind: "latency", ms: 30, jitter: 10, direction: "downstream" }]);
  // A mean of 12 uniform draws strays by 1.7 ms (one sigma): up to three tries.
  await eventually(async () => {
    const samples: number[] = [];
    for (let i = 0; i < 12; i++) samples.push(await roundTrip(t.peer, t.client));
    for (const s of samples) assert.ok(s >= 19 && s <= 45, `sample ${s.toFixed(1)} in 30 ± 10 ms`);
    assert.ok(Math.max(...samples) - Math.min(...samples) >= 4, "samples spread");
    near(mean(samples), 30, "mean of jittered latency", 10);
  }, { start: 1, cap: 3 });
});

Deno.test("latency: a stream is delayed, not slowed: chunks in flight wait together", async () => {
  await using t = await through([{ kind: "latency", ms: 50, direction: "upstream" }]);
  const start = performance.now();
  for (let i = 0; i < 5; i++) await t.client.write(ramp(10)); // five chunks, back to back
  const buf = new Uint8Array(50);
  let got = 0;
  while (got < 50) got += (await t.peer.read(buf.subarray(got)))!;
  const took = performance.now() - start;
  assert.ok(took >= 45 && took < 150, `5 chunks took ${took.toFixed(1)} ms, one latency`);
});

// ---- bandwidth ---------------------------------------------------------------

Deno.test("bandwidth: the rate a receiver sees is within 10% of the cap", async () => {
  await using t = await through();
  const total = 150_000;
  await eventually(async () => {
    const id = t.proxy.add({ kind: "bandwidth", bytesPerSecond: 500_000, direction: "downstream" });
    try {
      await t.peer.write(ramp(total));
      const buf = new Uint8Array(64 * 1024);
      let got = (await t.client.read(buf))!;
      const first = got; // the first piece goes at once; time the rest
      const start = performance.now();
      while (got < total) got += (await t.client.read(buf))!;
      const rate = (total - first) / ((performance.now() - start) / 1000);
      near(rate, 500_000, "bytes/s");
    } finally {
      t.proxy.remove(id);
    }
  }, { start: 1, cap: 3 });
});

// ---- slicing ------------------------------------------------------------------

Deno.test("slice: the receiver gets writes of the size asked, the delay apart", async () => {
  await using t = await through();
  await eventually(async (delay) => {
    const id = t.proxy.add({ kind: "slice", size: 3, delay, direction: "upstream" });
    try {
      await t.client.write(ramp(30));
      const sizes: number[] = [];
      const buf = new Uint8Array(64);
      const start = performance.now();
      for (let got = 0; got < 30;) {
        const n = (await t.peer.read(buf))!;
        sizes.push(n);
        got += n;
      }
      const took = performance.now() - start;
      assert.deepEqual(sizes, Array(10).fill(3), `reads of a 3-byte slice, ${delay} ms apart`);
      assert.ok(took >= 9 * delay * 0.9, `10 slices took ${took.toFixed(1)} ms`);
    } finally {
      t.proxy.remove(id);
    }
  }, { start: 8, cap: 30 });
});

// ---- silence ------------------------------------------------------------------

Deno.test("silence: holds data and EOF while in force, forwards them when removed", async () => {
  await using t = await through();
  const id = t.proxy.add({ kind: "silence", direction: "downstream" });
  await t.peer.write(ramp(5));
  await t.peer.closeWrite();
  const buf = new Uint8Array(16);
  const read = t.client.read(buf);
  await mustNotSettle(read, 100, "a read through silence");
  // The other way still flows.
  assert.ok(await roundTrip(t.client, t.peer) < 50);
  assert.equal(t.proxy.remove(id), true);
  assert.equal(await mustSettle(read, 1000, "the read after silence"), 5);
  assert.deepEqual(buf.subarray(0, 5), ramp(5));
  assert.equal(await mustSettle(t.client.read(buf), 1000, "EOF after silence"), null);
  assert.equal(t.proxy.remove(id), false, "removing twice");
});

Deno.test("silence: a read deadline ends the wait, and nothing is lost", async () => {
  await using t = await through([{ kind: "silence" }]);
  await t.peer.write(ramp(8));
  const buf = new Uint8Array(8);
  t.client.setReadDeadline(Date.now() + 60);
  await mustReject(t.client.read(buf), TimeoutError, 1000, "read against silence");
  t.client.setReadDeadline(null);
  t.proxy.clear();
  assert.equal(await mustSettle(t.client.read(buf), 1000), 8);
  assert.deepEqual(buf, ramp(8));
});

// ---- cut ------------------------------------------------------------------------

Deno.test("cut: the receiver reads EOF after exactly N bytes; the other way goes on", async () => {
  await using t = await through([{ kind: "cut", after: 10, direction: "upstream" }]);
  await t.client.write(ramp(100));
  const sizes = await mustSettle(readSizes(t.peer), 1000, "reading to the cut");
  assert.equal(sizes.reduce((a, b) => a + b, 0), 10);
  // Later bytes are discarded, not held: writes still complete.
  await mustSettle(t.client.write(ramp(1000)), 1000, "a write after the cut");
  assert.ok(await roundTrip(t.peer, t.client) < 50, "downstream still flows");
});

Deno.test("cut: after 0 bytes on an idle conn, EOF comes at once", async () => {
  await using t = await through();
  const read = t.client.read(new Uint8Array(4));
  await mustNotSettle(read, 30, "a read before the cut");
  t.proxy.add({ kind: "cut", direction: "downstream" });
  assert.equal(await mustSettle(read, 1000, "the read after the cut"), null);
});

// ---- reset ------------------------------------------------------------------------

const FFI = FaultProxy.resetSupported();

Deno.test({
  name: "reset: after N bytes both peers get a real RST (with --allow-ffi on Linux)",
  ignore: !FFI,
  async fn() {
    await using t = await through([{ kind: "reset", after: 10, direction: "downstream" }]);
    await t.peer.write(ramp(100));
    const buf = new Uint8Array(100);
    let got = 0;
    const err = await mustReject(
      (async () => {
        while (true) got += (await t.client.read(buf)) ?? assert.fail("EOF instead of a reset");
      })(),
      NetError,
      1000,
      "reading to the reset",
    );
    assert.equal(err.kind, "reset");
    assert.ok(got <= 10, `${got} bytes before the reset`);
    const serverSide = await mustReject(t.peer.read(buf), NetError, 1000, "the server's read");
    assert.equal(serverSide.kind, "reset");
    assert.equal(t.proxy.stats().resets, 1);
  },
});

Deno.test({
  name: "reset: afterMs resets an idle conn at that time",
  ignore: !FFI,
  async fn() {
    await using t = await through();
    const read = t.client.read(new Uint8Array(4));
    const start = performance.now();
    t.proxy.add({ kind: "reset", afterMs: 80 });
    await mustNotSettle(read, 40, "a read before the reset");
    const err = await mustReject(read, NetError, 1000, "the read at the reset");
    assert.equal(err.kind, "reset");
    assert.ok(performance.now() - start >= 75, "not before afterMs");
  },
});

Deno.test("reset: with neither after nor afterMs, new conns are reset at once", async () => {
  await using server = listen("127.0.0.1:0");
  await using proxy = new FaultProxy(server.addr, { faults: [{ kind: "reset" }] });
  await using client = await dial(proxy.addr);
  const end = await mustSettle(
    client.read(new Uint8Array(4)).then((n) => n, (e: NetError) => e.kind),
    1000,
    "the first read",
  );
  assert.equal(end, FFI ? "reset" : null);
  await until(() => proxy.stats().resets === 1, "the reset counted");
});

// ---- refuse ------------------------------------------------------------------------

Deno.test("refuse: new conns read EOF at once, open ones go on; removed, conns go through", async () => {
  await using t = await through();
  const id = t.proxy.add({ kind: "refuse" });
  {
    await using refused = await dial(t.proxy.addr);
    assert.equal(await mustSettle(refused.read(new Uint8Array(4)), 1000, "a refused read"), null);
  }
  assert.ok(await roundTrip(t.client, t.peer) < 50, "the open conn goes on");
  t.proxy.remove(id);
  await using again = await dial(t.proxy.addr);
  await using peer = await t.server.accept();
  assert.ok(await roundTrip(again, peer) < 50);
  const s = t.proxy.stats();
  assert.deepEqual([s.accepted, s.refused, s.open], [3, 1, 2]);
});

// ---- slow close ------------------------------------------------------------------

Deno.test("slow close: the FIN comes that much later, after the data", async () => {
  await using t = await through([{ kind: "slow-close", ms: 100, direction: "downstream" }]);
  await t.peer.write(ramp(3));
  const start = performance.now();
  await t.peer.closeWrite();
  const buf = new Uint8Array(8);
  assert.equal(await mustSettle(t.client.read(buf), 50, "the data before the close"), 3);
  const eof = t.client.read(buf);
  await mustNotSettle(eof, 50, "EOF during the slow close");
  assert.equal(await mustSettle(eof, 1000, "EOF after the slow close"), null);
  near(performance.now() - start, 100, "close delay", 20);
});

// ---- faults on open conns, stats ----------------------------------------------------

Deno.test("faults added and removed on an open conn take effect at once", async () => {
  await using t = await through();
  assert.ok(await roundTrip(t.client, t.peer) < 20, "no fault");
  const id = t.proxy.add({ kind: "latency", ms: 60 });
  assert.ok(await roundTrip(t.client, t.peer) >= 55, "latency added");
  // A chunk waiting out a latency goes as soon as the latency is removed.
  const pending = roundTrip(t.client, t.peer);
  await mustNotSettle(pending, 20, "a chunk in latency");
  t.proxy.remove(id);
  assert.ok((await mustSettle(pending, 30, "the chunk after removal")) < 50);
  assert.deepEqual(t.proxy.faults(), []);
});

Deno.test("stats: bytes each way, conns accepted and open, failed upstream dials", async () => {
  await using t = await through();
  await roundTrip(t.client, t.peer, 100);
  await roundTrip(t.peer, t.client, 7);
  let s = t.proxy.stats();
  assert.deepEqual([s.bytesUpstream, s.bytesDownstream, s.accepted, s.open], [100, 7, 1, 1]);
  t.client.close();
  t.peer.close();
  await until(() => t.proxy.stats().open === 0, "the conn over");

  // An upstream nobody listens on: the client's conn is closed.
  const closed = listen("127.0.0.1:0");
  const port = closed.addr.port;
  await closed[Symbol.asyncDispose]();
  await using proxy = new FaultProxy(`127.0.0.1:${port}`);
  await using client = await dial(proxy.addr);
  assert.equal(await mustSettle(client.read(new Uint8Array(4)), 1000), null);
  s = proxy.stats();
  assert.deepEqual([s.accepted, s.upstreamFailures, s.open], [1, 1, 0]);
});

Deno.test("close: open conns are closed on both sides, and close twice is a no-op", async () => {
  await using t = await through([{ kind: "silence" }]);
  await t.client.write(ramp(5));
  t.proxy.close();
  t.proxy.close();
  const buf = new Uint8Array(8);
  // The proxy held the client's 5 bytes unread: its close resets the client's
  // conn, as Go's close(2) does (Linux with --allow-ffi), else the client reads EOF.
  const end = await mustSettle(t.client.read(buf).catch((e) => e), 1000);
  assert.ok(end === null || (end instanceof NetError && end.kind === "reset"), String(end));
  assert.equal(await mustSettle(t.peer.read(buf), 1000), null);
  await mustReject(dial(t.proxy.addr), NetError, 1000, "a dial after close");
});

// ---- bad arguments ------------------------------------------------------------------

Deno.test("bad arguments: TypeError for wrong types, RangeError out of range", async () => {
  await using server = listen("127.0.0.1:0");
  const up = server.addr;
  const ctor = (u: unknown, o?: unknown) => () =>
    new FaultProxy(u as string, o as Record<string, never>).close();
  assert.throws(ctor(42), TypeError);
  assert.throws(ctor(null), TypeError);
  assert.throws(ctor("no-port"), TypeError);
  assert.throws(ctor("127.0.0.1:0"), RangeError);
  assert.throws(ctor("127.0.0.1:70000"), RangeError);
  assert.throws(ctor({ port: "80" }), TypeError);
  assert.throws(ctor({ hostname: 1, port: 80 }), TypeError);
  assert.throws(ctor({ port: 1.5 }), RangeError);
  assert.throws(ctor(up, "x"), TypeError);
  assert.throws(ctor(up, { faults: {} }), TypeError);
  assert.throws(ctor(up, { faults: [{ kind: "lag" }] }), TypeError);
  assert.throws(ctor(up, { dialTimeout: "1" }), TypeError);
  assert.throws(ctor(up, { dialTimeout: NaN }), RangeError);
  assert.throws(ctor(up, { dialTimeout: 0 }), RangeError);
  // An upstream dial() would reject at once is refused here, not on every conn.
  for (const u of ["127.0.0.1::6379", "a b:80", "[::1:80", { hostname: "a b", port: 80 }]) {
    assert.throws(ctor(u), /cannot be dialed/, Deno.inspect(u));
  }
  // Unknown option keys, and seeds out of range.
  assert.throws(ctor(up, { dialtimeout: 5 }), /has no option "dialtimeout"/);
  assert.throws(ctor(up, { seed: "1" }), TypeError);
  assert.throws(ctor(up, { seed: -1 }), RangeError);
  assert.throws(ctor(up, { seed: 2 ** 32 }), RangeError);
  // The listen address is listen()'s to judge.
  assert.throws(
    ctor(up, { listen: "127.0.0.1:99999" }),
    (e) => e instanceof RangeError || e instanceof NetError,
  );

  await using proxy = new FaultProxy(up);
  const add = (f: unknown) => () => proxy.add(f as never);
  for (const f of [null, "latency", {}, { kind: 1 }, { kind: "lag" }]) {
    assert.throws(add(f), TypeError);
  }
  const typeErrors = [
    { kind: "latency" },
    { kind: "latency", ms: "5" },
    { kind: "latency", ms: 5, jitter: "1" },
    { kind: "latency", ms: 5, direction: "sideways" },
    { kind: "bandwidth", bytesPerSecond: 10n },
    { kind: "slice" },
    { kind: "cut", after: "1" },
    { kind: "reset", afterMs: null },
    { kind: "slow-close" },
    { kind: "latency", ms: 5, jiter: 1 }, // unknown field
    { kind: "silence", ms: 5 },
    { kind: "timeout" },
    { kind: "limit-data" },
    { kind: "latency", ms: 5, toxicity: "1" },
  ];
  for (const f of typeErrors) assert.throws(add(f), TypeError, Deno.inspect(f));
  const rangeErrors = [
    { kind: "latency", ms: -1 },
    { kind: "latency", ms: NaN },
    { kind: "latency", ms: 2 ** 31 },
    { kind: "latency", ms: 5, jitter: -1 },
    { kind: "bandwidth", bytesPerSecond: 0 },
    { kind: "bandwidth", bytesPerSecond: Infinity },
    { kind: "slice", size: 0 },
    { kind: "slice", size: 1.5 },
    { kind: "slice", size: 1, delay: -1 },
    { kind: "cut", after: -1 },
    { kind: "reset", after: 0.5 },
    { kind: "reset", afterMs: -5 },
    { kind: "slow-close", ms: Infinity },
    { kind: "slice", size: 4, sizeVariation: -1 },
    { kind: "timeout", ms: -1 },
    { kind: "limit-data", bytes: 1.5 },
    { kind: "latency", ms: 5, toxicity: 1.5 },
    { kind: "latency", ms: 5, toxicity: -0.1 },
  ];
  for (const f of rangeErrors) assert.throws(add(f), RangeError, Deno.inspect(f));
  assert.throws(() => proxy.remove("1" as unknown as number), TypeError);
  assert.equal(proxy.remove(12345), false);
  assert.deepEqual(proxy.faults(), [], "nothing was added");
});

Deno.test("faults(): defaults filled in, in the order added", async () => {
  await using server = listen("127.0.0.1:0");
  await using proxy = new FaultProxy(server.addr, { faults: [{ kind: "silence" }] });
  const id = proxy.add({ kind: "slice", size: 1 });
  proxy.add({ kind: "reset", after: 3, direction: "upstream" });
  assert.deepEqual(proxy.faults(), [
    [1, { kind: "silence", direction: "both", toxicity: 1 }],
    [id, { kind: "slice", size: 1, sizeVariation: 0, delay: 0, direction: "both", toxicity: 1 }],
    [3, { kind: "reset", after: 3, direction: "upstream", toxicity: 1 }],
  ]);
});

Deno.test("seed: the proxy tells its seed, and the same seed replays its draws (slice sizes)", async () => {
  const sizes = async (seed: number): Promise<number[]> => {
    await using server = listen("127.0.0.1:0");
    await using proxy = new FaultProxy(server.addr, {
      seed,
      faults: [{ kind: "slice", size: 8, sizeVariation: 6, delay: 5 }],
    });
    assert.equal(proxy.seed, seed);
    await using client = await dial(proxy.addr);
    await using peer = await server.accept();
    await peer.write(new Uint8Array(120));
    await peer.closeWrite();
    return await readSizes(client);
  };
  const a = await sizes(11);
  assert.equal(a.reduce((x, y) => x + y, 0), 120);
  assert.ok(new Set(a).size > 2, `sizes vary: ${a}`);
  assert.deepEqual(await sizes(11), a);
  await using server = listen("127.0.0.1:0");
  await using unseeded = new FaultProxy(server.addr);
  assert.ok(Number.isInteger(unseeded.seed) && unseeded.seed >= 0, "a fresh seed, told");
});

Deno.test("silence: the proxy holds at most 256 KiB a conn and direction (stats().bytesHeld)", async () => {
  await using server = listen("127.0.0.1:0");
  await using proxy = new FaultProxy(server.addr, {
    faults: [{ kind: "silence", direction: "downstream" }],
  });
  const N = 4;
  const conns: Conn[] = [];
  const writes: Promise<unknown>[] = [];
  try {
    for (let i = 0; i < N; i++) conns.push(await dial(proxy.addr), await server.accept());
    const big = new Uint8Array(4 << 20);
    for (let i = 1; i < conns.length; i += 2) writes.push(conns[i]!.write(big).catch(() => {}));
    // Held bytes grow, then stop: the proxy stops reading at its bound.
    let last = -1;
    await eventually(async (ms) => {
      await delay(ms);
      const held = proxy.stats().bytesHeld;
      const steady = held === last && held > 0;
      last = held;
      assert.ok(steady, `still growing: ${held}`);
    }, { start: 50, cap: 400 });
    const held = proxy.stats().bytesHeld;
    assert.ok(held <= N * 256 * 1024, `${held} bytes held for ${N} conns`);
    assert.ok(held >= N * 224 * 1024, `${held} bytes held for ${N} conns: it read up to its bound`);
  } finally {
    for (const c of conns) c.close();
    await Promise.all(writes);
  }
});
