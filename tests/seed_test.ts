// The article netconn grew from ("Go语言TCP Socket编程", both halves), case by
// case, through netconn on loopback: write success, write blocking, a partial
// write when the peer dies, write timeout (client6), concurrent writers and
// readers, the read cases, read deadline, the close cases and the dial
// errors. Each test names the article's case it reproduces.
//
// Run: deno test --allow-net tests/seed_test.ts

import assert from "node:assert/strict";
import { ClosedError, type Conn, dial, listen, NetError, TimeoutError } from "../mod.ts";
import { fillUntilBlocked } from "./_helpers.ts";
import { drain, pattern, readAtLeast } from "../_kit/bytes.ts";
import {
  eventually,
  mustNotSettle,
  mustReject,
  mustSettle,
  PENDING,
  within,
} from "../_kit/wait.ts";
import { pair } from "../_kit/loopback.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
// Go's client5 writes 64 KiB at a time; so do the write cases here.
const CHUNK = 65536;
// No loopback socket takes this much unread: a write loop that gets here never blocked.
const NEVER_BLOCKS = 64 << 20;
// The kinds an OS gives a write to a peer that is gone (Linux: EPIPE; Windows, the article: reset).
const DEAD_PEER = ["broken-pipe", "reset"];

/** Checks `stream` is `chunk` repeated (the last copy may be cut short). */
function assertRepeats(stream: Uint8Array, chunk: Uint8Array): void {
  for (let off = 0; off < stream.length; off += chunk.length) {
    const part = stream.subarray(off, off + chunk.length);
    if (!part.every((b, i) => b === chunk[i])) {
      assert.fail(`bytes at ${off}..${off + part.length} are not the chunk written there`);
    }
  }
}

// ---- conn.Write ----------------------------------------------------------

Deno.test("seed 1, write success: write resolves with len(p) and the peer reads those bytes", async () => {
  const cases = [1, 10, 1000, CHUNK, 300_000];
  await using p = await pair();
  for (const size of cases) {
    const data = pattern(size, size);
    const [n, got] = await mustSettle(
      Promise.all([p.client.write(data), readAtLeast(p.server, size)]),
      10_000,
      `a ${size}-byte write and its read`,
    );
    assert.equal(n, size);
    assert.deepEqual(got, data, `${size} bytes arrive whole and in order`);
  }
});

Deno.test("seed 2, write blocking: a peer that does not read makes a write block, reading lets it finish", async () => {
  await using p = await pair();
  const chunk = pattern(CHUNK, 2);
  // server5 does not read at first: client5's writes go into the OS buffers until one blocks.
  const { accepted, blocked } = await fillUntilBlocked(p.client, chunk);
  assert.ok(accepted > 0, "the OS buffers take some writes before one blocks");
  assert.equal(accepted % CHUNK, 0, "a write resolves only with all of its bytes");
  await mustNotSettle(blocked, 100, "a write to a peer that does not read");

  // Now the peer reads: the blocked write finishes and every byte arrives, in order.
  const total = accepted + CHUNK;
  const got = readAtLeast(p.server, total);
  assert.equal(await mustSettle(blocked, 10_000, "the blocked write once the peer reads"), CHUNK);
  const stream = await mustSettle(got, 10_000, "reading what was written");
  assert.equal(stream.length, total);
  assertRepeats(stream, chunk);
  assert.equal(p.client.stats().bytesWritten, total);
});

Deno.test("seed 3, partial write: the peer dies with unread data, the blocked write says how much of it went out", async () => {
  await using p = await pair();
  // One write larger than the socket buffers can hold, so it is accepted in
  // part and then blocks (Go's client5: a write blocked when server5 was killed).
  const big = pattern(32 << 20, 3);
  const w = p.client.write(big);
  await mustNotSettle(w, 100, "a write larger than the socket buffers");
  // The peer reads a little, then dies with unread data: the OS resets.
  const read = await readAtLeast(p.server, 1000);
  assert.deepEqual(read, big.subarray(0, 1000));
  p.server.close();

  const err = await mustReject(w, NetError, 10_000, "the blocked write once the peer is gone");
  assert.ok(!(err instanceof ClosedError), "a peer's close is not our close");
  assert.ok(!(err instanceof TimeoutError));
  assert.ok(DEAD_PEER.includes(err.kind), `kind ${err.kind}`);
  assert.equal(err.op, "write");
  const n = err.bytesWritten!;
  assert.ok(Number.isInteger(n), `bytesWritten ${n}`);
  assert.ok(n >= 1000 && n < big.length, `bytesWritten ${n}: at least what the peer read, not all`);
  assert.equal(
    n,
    p.client.stats().bytesWritten,
    "the count is the OS's: the only write on the conn",
  );
  assert.equal(err.settled, undefined, "no runtime write left in flight");
});

// client6: SetWriteDeadline(now + 10µs) before each 64 KiB write, server6 not reading.
for (const end of ["drain", "close"] as const) {
  Deno.test(`seed 4, write timeout (client6): a write deadline ends a blocked write with true counts (then ${end})`, async () => {
    // How many 64 KiB writes fit before one blocks, with no deadline: the
    // figure client6's writes must reach, as in Go, since a deadline ends
    // only a write that waits.
    let fit: number;
    {
      await using q = await pair();
      fit = (await fillUntilBlocked(q.client, pattern(CHUNK, 4))).accepted / CHUNK;
    }
    await using p = await pair();
    const chunk = pattern(CHUNK, 4);
    let accepted = 0;
    let err: TimeoutError | undefined;
    while (err === undefined) {
      assert.ok(accepted < NEVER_BLOCKS, "writes to a peer that does not read must block");
      p.client.setWriteDeadline(Date.now() + 0.01); // the article's 10 µs
      try {
        assert.equal(
          await mustSettle(p.client.write(chunk), 5000, "a write with a deadline"),
          CHUNK,
        );
        accepted += CHUNK;
      } catch (e) {
        assert.ok(e instanceof TimeoutError, `want TimeoutError, got ${String(e)}`);
        err = e;
      }
    }
    const writes = accepted / CHUNK;
    assert.ok(
      writes >= Math.floor(fit * 0.8) && writes <= Math.ceil(fit * 1.2) + 1,
      `${writes} full writes before the timeout; ${fit} fit before a write blocks`,
    );
    assert.ok(accepted > 0, "writes succeed until the OS buffers are full");
    assert.equal(err.timeout, true);
    assert.ok(err.message.includes("i/o timeout"), err.message);
    assert.equal(err.op, "write");
    const partial = err.bytesWritten!;
    assert.ok(
      Number.isInteger(partial) && partial >= 0 && partial < CHUNK,
      `bytesWritten ${partial}`,
    );
    assert.equal(accepted + partial, p.client.stats().bytesWritten, "counts agree with the OS");

    // The stranded runtime write ends when the peer reads or the conn closes;
    // only then is the final count known (never await it before).
    let final: number;
    let received: number;
    if (end === "drain") {
      const got = readAtLeast(p.server, accepted + CHUNK);
      final = await mustSettle(err.settled ?? Promise.resolve(partial), 10_000, "settled");
      p.client.setWriteDeadline(null);
      await p.client.closeWrite();
      received = (await got).length + (await drain(p.server, { bufSize: 256 * 1024 })).bytes;
    } else {
      p.client.close();
      final = await mustSettle(err.settled ?? Promise.resolve(partial), 10_000, "settled");
      received = (await mustSettle(
        drain(p.server, { bufSize: 256 * 1024 }),
        10_000,
        "the peer's reads after close",
      )).bytes;
    }
    assert.ok(final >= partial && final <= CHUNK, `settled ${final}, bytesWritten ${partial}`);
    assert.equal(received, accepted + final, "the peer gets exactly the bytes counted");
  });
}

Deno.test("seed, goroutine safety: concurrent writers' messages never interleave, even with a slow reader", async () => {
  const WRITERS = 8;
  // Sizes span tiny to larger than the socket buffers and than one runtime write.
  const SIZES = [1, 100, 5000, CHUNK, 300_000, 1_100_000];
  const HEADER = 8; // writer, seq, length (u32)
  const frame = (writer: number, seq: number): Uint8Array => {
    const body = pattern(SIZES[seq]!, writer * 100 + seq + 1);
    const out = new Uint8Array(HEADER + body.length);
    const view = new DataView(out.buffer);
    view.setUint16(0, writer);
    view.setUint16(2, seq);
    view.setUint32(4, body.length);
    out.set(body, HEADER);
    return out;
  };
  await using p = await pair();
  const writers = Array.from({ length: WRITERS }, async (_, writer) => {
    for (let seq = 0; seq < SIZES.length; seq++) await p.client.write(frame(writer, seq));
  });
  const done = Promise.all(writers).then(() => p.client.closeWrite());

  // The reader is slow: small reads, so writers wait with bytes half sent.
  const next = new Array<number>(WRITERS).fill(0);
  const reader = (async () => {
    const buf = new Uint8Array(4096);
    let stream = new Uint8Array(0);
    for (let n = await p.server.read(buf); n !== null; n = await p.server.read(buf)) {
      const joined = new Uint8Array(stream.length + n);
      joined.set(stream);
      joined.set(buf.subarray(0, n), stream.length);
      stream = joined;
      while (stream.length >= HEADER) {
        const view = new DataView(stream.buffer, stream.byteOffset);
        const len = view.getUint32(4);
        if (stream.length < HEADER + len) break;
        const writer = view.getUint16(0);
        const seq = view.getUint16(2);
        assert.ok(writer < WRITERS, `frame header names writer ${writer}: frames interleaved`);
        assert.equal(seq, next[writer], `writer ${writer}'s frames out of order`);
        const want = frame(writer, seq);
        if (!want.every((b, i) => b === stream[i])) {
          assert.fail(`frame ${writer}/${seq} is not contiguous on the wire`);
        }
        next[writer]!++;
        stream = stream.slice(HEADER + len);
      }
    }
    assert.equal(stream.length, 0, "no trailing bytes");
  })();
  await mustSettle(Promise.all([done, reader]), 30_000, "writers and the reader");
  assert.deepEqual(next, new Array(WRITERS).fill(SIZES.length), "every frame arrived");
});

Deno.test("seed, goroutine safety: concurrent reads never overlap and are served in call order", async () => {
  await using p = await pair();
  const data = pattern(200_000, 5);
  // Each call's buffer, in the order the calls were made.
  const calls: { buf: Uint8Array; n: number }[] = [];
  const readers = Array.from({ length: 16 }, async () => {
    for (;;) {
      const call = { buf: new Uint8Array(777), n: 0 };
      calls.push(call);
      const n = await p.server.read(call.buf);
      if (n === null) return;
      call.n = n;
    }
  });
  await p.client.write(data);
  await p.client.closeWrite();
  await mustSettle(Promise.all(readers), 10_000, "the readers");
  const stream = new Uint8Array(calls.reduce((sum, call) => sum + call.n, 0));
  let off = 0;
  for (const call of calls) {
    stream.set(call.buf.subarray(0, call.n), off);
    off += call.n;
  }
  assert.deepEqual(stream, data, "each byte read once, by the calls in the order they were made");
});

// ---- conn.Read -----------------------------------------------------------

Deno.test("seed, read with no data: read blocks, then returns once data comes", async () => {
  await using p = await pair();
  const buf = new Uint8Array(64);
  const r = p.server.read(buf);
  await mustNotSettle(r, 100, "a read with no data");
  await p.client.write(enc.encode("hi"));
  assert.equal(await mustSettle(r, 5000, "the read once data comes"), 2);
  assert.equal(dec.decode(buf.subarray(0, 2)), "hi");
});

Deno.test("seed, read cases: read returns what is there, at most len(p), in order", async (t) => {
  const cases = [
    { name: "some data: n < len(p)", sent: 5, buf: 64, want: [5] },
    { name: "exactly len(p)", sent: 64, buf: 64, want: [64] },
    {
      name: "more than len(p): len(p), then the rest",
      sent: 100,
      buf: 10,
      want: Array(10).fill(10),
    },
    { name: "more than len(p), uneven", sent: 25, buf: 10, want: [10, 10, 5] },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using p = await pair();
      const data = pattern(c.sent, c.sent);
      await p.client.write(data);
      const buf = new Uint8Array(c.buf);
      const ns: number[] = [];
      const stream: number[] = [];
      for (let got = 0; got < c.sent;) {
        const n = await mustSettle(p.server.read(buf), 5000, "a read with data waiting");
        assert.ok(n !== null);
        ns.push(n);
        stream.push(...buf.subarray(0, n));
        got += n;
      }
      assert.deepEqual(ns, c.want);
      assert.deepEqual(new Uint8Array(stream), data);
      // Everything was read: the next read waits.
      await mustNotSettle(p.server.read(buf), 50, "a read after all data was read");
    });
  }
});

Deno.test("seed, read after the peer closed: the remaining data, then null, again and again", async () => {
  await using p = await pair();
  const data = pattern(10_000, 6);
  await p.client.write(data);
  p.client.close();
  const got = await mustSettle(
    readAtLeast(p.server, data.length + 1, 3000),
    5000,
    "reading to EOF",
  );
  assert.deepEqual(got, data);
  const buf = new Uint8Array(16);
  for (let i = 0; i < 3; i++) assert.equal(await p.server.read(buf), null, "EOF is sticky");
});

Deno.test("seed, read deadline: the read fails with TimeoutError, then the conn reads again and nothing is lost", async () => {
  await using p = await pair();
  const buf = new Uint8Array(64);
  const ms = 150;
  p.server.setReadDeadline(Date.now() + ms);
  const r = p.server.read(buf);
  await mustNotSettle(r, ms / 3, "a read before its deadline");
  const err = await mustReject(r, TimeoutError, 5000, "the read at its deadline");
  assert.equal(err.timeout, true);
  assert.ok(err.message.includes("i/o timeout"));
  assert.equal(err.op, "read");

  // The deadline stays passed until moved: reads fail at once (server5's loop `continue`s).
  await mustReject(p.server.read(buf), TimeoutError, 1000, "a read after the deadline passed");
  // Bytes that arrive now go to the next read.
  await p.client.write(enc.encode("late"));
  p.server.setReadDeadline(null);
  const n = await mustSettle(p.server.read(buf), 5000, "a read after the deadline was cleared");
  assert.equal(dec.decode(buf.subarray(0, n!)), "late");
});

Deno.test("seed, read deadline far away: the read must not return; close ends it with ClosedError, not a timeout", async () => {
  await using p = await pair();
  p.server.setReadDeadline(Date.now() + 3_600_000);
  const r = p.server.read(new Uint8Array(8));
  await mustNotSettle(r, 150, "a read with a deadline an hour away");
  p.server.close();
  const err = await mustReject(r, ClosedError, 5000, "a read pending at close");
  assert.equal(err.timeout, false);
});

// ---- close ---------------------------------------------------------------

Deno.test('seed, own close: read and write fail with "use of closed network connection"', async () => {
  await using p = await pair();
  p.client.close();
  for (
    const [op, run] of [
      ["read", () => p.client.read(new Uint8Array(32))],
      ["write", () => p.client.write(new Uint8Array(32))],
    ] as const
  ) {
    const err = await mustReject(run(), ClosedError, 1000, `${op} after close`);
    assert.equal(err.op, op);
    assert.equal(err.kind, "closed");
    assert.equal(err.timeout, false);
    assert.ok(err.message.includes("use of closed network connection"), err.message);
  }
  // The peer (the article's server) sees EOF, and its write still succeeds.
  const buf = new Uint8Array(10);
  assert.equal(await mustSettle(p.server.read(buf), 5000, "the peer's read"), null);
  assert.equal(await p.server.write(buf), 10);
});

Deno.test("seed, own close: operations pending at close fail with ClosedError", async () => {
  await using p = await pair();
  const read = p.client.read(new Uint8Array(64));
  const { blocked } = await fillUntilBlocked(p.client, pattern(CHUNK, 7));
  const queued = p.client.write(pattern(100, 8));
  await mustNotSettle(Promise.race([read, blocked, queued]), 50, "pending read and writes");
  p.client.close();
  await mustReject(read, ClosedError, 5000, "a read pending at close");
  await mustReject(blocked, ClosedError, 5000, "a blocked write at close");
  const err = await mustReject(queued, ClosedError, 5000, "a queued write at close");
  assert.ok(err.message.includes("use of closed network connection"), err.message);
  assert.equal(err.bytesWritten, 0, "a write that never started wrote nothing");
});

Deno.test("seed, close twice: the second close does nothing", async () => {
  await using p = await pair();
  p.client.close();
  p.client.close();
  await p.client[Symbol.asyncDispose]();
  await mustReject(p.client.read(new Uint8Array(1)), ClosedError, 1000);
});

Deno.test("seed, peer close: read gives null, the first write succeeds, later ones fail with broken pipe", async () => {
  await using p = await pair();
  const buf = new Uint8Array(10);
  const pending = p.server.read(buf);
  await mustNotSettle(pending, 20, "a read with no data");
  p.client.close();
  assert.equal(await mustSettle(pending, 5000, "a read waiting when the peer closed"), null);
  assert.equal(await p.server.read(buf), null, "and every read after it");
  // The bytes go into this side's buffer: the write succeeds (the article's server: "write 10 bytes").
  assert.equal(await p.server.write(buf), 10);
  // The peer answers with a reset; a later write sees the stream is gone.
  const err = await eventually(async (ms) => {
    const e = await within(p.server.write(buf).then(() => undefined, (e: unknown) => e), ms);
    assert.ok(e instanceof NetError, "a write to a closed peer must fail");
    return e;
  }, { start: 10, cap: 500 });
  assert.ok(!(err instanceof ClosedError), "the peer's close is not ours");
  assert.ok(DEAD_PEER.includes(err.kind), `kind ${err.kind}`);
  assert.equal(err.bytesWritten, 0);
});

// ---- socket options: SO_REUSEADDR ---------------------------------------

Deno.test("seed, SO_REUSEADDR: a restarted server listens on its port at once, with old conns in TIME_WAIT", async () => {
  const ln = listen("127.0.0.1:0");
  const port = ln.addr.port;
  {
    await using client = await dial(ln.addr);
    await using server = await ln.accept();
    // The server closes first: its side, on the listener's port, goes to TIME_WAIT.
    server.close();
    assert.equal(await mustSettle(client.read(new Uint8Array(1)), 5000, "EOF"), null);
  }
  await ln[Symbol.asyncDispose]();
  await using again = listen({ hostname: "127.0.0.1", port });
  assert.equal(again.addr.port, port);
  await using client = await mustSettle(dial(again.addr), 5000, "a dial to the restarted server");
  await using server = await mustSettle(again.accept(), 5000, "its accept");
  assert.equal(server.remoteAddr.port, client.localAddr.port);
});

// ---- dial ----------------------------------------------------------------

Deno.test("seed, dial refused: a port nobody listens on fails at once", async () => {
  const ln = listen("127.0.0.1:0");
  const port = ln.addr.port;
  await ln[Symbol.asyncDispose]();
  const err = await mustReject(
    dial(`127.0.0.1:${port}`, { timeout: 30_000 }),
    NetError,
    2000,
    "a dial to a closed port",
  );
  assert.equal(err.kind, "refused");
  assert.equal(err.op, "dial");
  assert.equal(err.timeout, false);
});

Deno.test("seed, dial to a full backlog: it hangs until its timeout, then fails with TimeoutError", async () => {
  const backlog = 1;
  const timeout = 600;
  await using ln = listen("127.0.0.1:0", { backlog });
  const conns: Conn[] = [];
  try {
    // Nobody accepts: about backlog + 1 dials complete, the next one hangs.
    for (let i = 0; i <= backlog + 3; i++) {
      const start = performance.now();
      const d = dial(ln.addr, { timeout });
      const c = await within(d.catch((e: unknown) => e), timeout / 2);
      if (c instanceof NetError) assert.fail(`dial ${i} failed before its timeout: ${c}`);
      if (c !== PENDING) {
        conns.push(c as Conn);
        continue;
      }
      // c is pending: the must-not-return half. Now it must fail at its timeout.
      const err = await mustReject(d, TimeoutError, timeout * 10, "a dial to a full backlog");
      assert.ok(performance.now() - start >= timeout - 5, "not before its timeout");
      assert.equal(err.op, "dial");
      assert.ok(err.message.includes("i/o timeout"));
      assert.ok(
        conns.length >= backlog && conns.length <= backlog + 2,
        `${conns.length} completed`,
      );
      return;
    }
    assert.fail(`${conns.length} dials completed and none hung`);
  } finally {
    for (const c of conns) await c[Symbol.asyncDispose]();
  }
});
