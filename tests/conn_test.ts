import assert from "node:assert/strict";
import { ClosedError, type Conn, dial, listen, NetError, TimeoutError } from "../mod.ts";
import { eventually, mustNotSettle, mustSettle } from "../_kit/wait.ts";
import { pair } from "../_kit/loopback.ts";
import { readAtLeast } from "../_kit/bytes.ts";

/**
 * The must-return half with Go's growing timeout: `attempt(ms)` checks the
 * timing and says whether it was close enough; a busy machine retries longer.
 */
function withGrowingTimeout(attempt: (ms: number) => Promise<boolean>): Promise<void> {
  return eventually(async (ms) => {
    if (!await attempt(ms)) throw new Error(`timing off with a ${ms} ms timeout`);
  }, { cap: 1500 });
}

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Reads `want` bytes, or to EOF. */
async function readAll(conn: Conn, want: number): Promise<Uint8Array> {
  if (Number.isFinite(want)) return await readAtLeast(conn, want);
  let out = new Uint8Array(0);
  for (let part = await readAtLeast(conn, 1 << 20); part.length > 0;) {
    const grown = new Uint8Array(out.length + part.length);
    grown.set(out);
    grown.set(part, out.length);
    out = grown;
    part = await readAtLeast(conn, 1 << 20);
  }
  return out;
}

Deno.test("read returns what has arrived, up to len(p)", async () => {
  await using t = await pair();
  await t.client.write(text("abc"));
  const buf = new Uint8Array(10);
  const n = await t.server.read(buf);
  assert.equal(n, 3);
  await t.client.write(text("0123456789abcdef"));
  const small = new Uint8Array(10);
  assert.equal(await readAll(t.server, 16).then((b) => b.length), 16);
  assert.equal(await t.server.read(new Uint8Array(0)), 0);
  await t.client.write(text("xyz"));
  assert.equal(await t.server.read(small.subarray(0, 2)), 2);
  assert.equal(await t.server.read(small), 1);
  assert.equal(new TextDecoder().decode(small.subarray(0, 1)), "z");
});

Deno.test("a read with no data waits until data comes", async () => {
  await using t = await pair();
  const buf = new Uint8Array(8);
  const read = t.server.read(buf);
  await mustNotSettle(read, 50, "a read with no data");
  await t.client.write(text("late"));
  assert.equal(await read, 4);
});

Deno.test("concurrent reads are served one at a time, in order", async () => {
  await using t = await pair();
  const a = new Uint8Array(1), b = new Uint8Array(1), c = new Uint8Array(1);
  const reads = [t.server.read(a), t.server.read(b), t.server.read(c)];
  await t.client.write(text("xyz"));
  assert.deepEqual(await Promise.all(reads), [1, 1, 1]);
  assert.deepEqual([a[0], b[0], c[0]], [...text("xyz")]);
});

Deno.test("write resolves only after every byte of a large buffer is accepted", async () => {
  await using t = await pair();
  const p = Uint8Array.from({ length: 8 << 20 }, (_, i) => (i * 31) & 255);
  const write = t.client.write(p);
  const got = await readAll(t.server, p.length);
  assert.equal(await write, p.length);
  assert.deepEqual(got, p);
});

Deno.test("concurrent writes never interleave on the wire", async () => {
  await using t = await pair();
  const sizes = [1, 100, 70_000, 3, 1 << 20, 512, 300_000, 9];
  const frames = sizes.map((size, i) => new Uint8Array(size).fill(i + 1));
  const total = sizes.reduce((s, n) => s + n, 0);
  const writes = frames.map((f) => t.client.write(f));
  const got = await readAll(t.server, total);
  assert.deepEqual(await Promise.all(writes), sizes);
  let at = 0;
  for (const [i, size] of sizes.entries()) {
    const run = got.subarray(at, at + size);
    assert.ok(run.every((b) => b === i + 1), `frame ${i} is not contiguous`);
    at += size;
  }
});

Deno.test("a read deadline fails a waiting read; later bytes go to the next read", async () => {
  await using t = await pair();
  await withGrowingTimeout(async (ms) => {
    const start = performance.now();
    t.server.setReadDeadline(Date.now() + ms);
    const buf = new Uint8Array(8).fill(7);
    const err = await t.server.read(buf).catch((e) => e);
    const took = performance.now() - start;
    assert.ok(err instanceof TimeoutError, String(err));
    assert.equal(err.op, "read");
    assert.ok(took >= ms - 2, `timed out after ${took} ms, before the ${ms} ms deadline`);
    t.server.setReadDeadline(null);
    await t.client.write(text("kept"));
    const next = new Uint8Array(8);
    assert.equal(await t.server.read(next), 4);
    assert.equal(new TextDecoder().decode(next.subarray(0, 4)), "kept");
    assert.ok(buf.every((b) => b === 7), "the timed-out read's buffer was written");
    return took < ms * 3 + 20;
  });
});

Deno.test("moving a read deadline later while a read waits postpones it", async () => {
  await using t = await pair();
  t.server.setReadDeadline(Date.now() + 30);
  const read = t.server.read(new Uint8Array(4));
  t.server.setReadDeadline(Date.now() + 60_000);
  await mustNotSettle(read, 100, "a read whose deadline moved 60 s away");
  t.server.setReadDeadline(Date.now() - 1); // into the past: fails it at once
  const err = await read.catch((e) => e);
  assert.ok(err instanceof TimeoutError);
});

Deno.test("setting a deadline while a read waits applies to it", async () => {
  await using t = await pair();
  const read = t.server.read(new Uint8Array(4));
  await mustNotSettle(read, 30, "a read with no deadline");
  t.server.setDeadline(Date.now() + 20);
  assert.ok(await read.catch((e) => e) instanceof TimeoutError);
});

Deno.test("after a deadline passes every read fails until it is moved", async () => {
  await using t = await pair();
  await t.client.write(text("data"));
  t.server.setReadDeadline(new Date(Date.now() - 1000));
  for (let i = 0; i < 3; i++) {
    assert.ok(await t.server.read(new Uint8Array(4)).catch((e) => e) instanceof TimeoutError);
  }
  t.server.setReadDeadline(0);
  assert.equal(await t.server.read(new Uint8Array(4)), 4);
});

Deno.test("a signal ends one read; the conn stays usable", async () => {
  await using t = await pair();
  const controller = new AbortController();
  const read = t.server.read(new Uint8Array(4), { signal: controller.signal });
  await mustNotSettle(read, 20, "a read before its signal fires");
  const reason = new Error("stop");
  controller.abort(reason);
  const err = await read.catch((e) => e);
  assert.ok(err instanceof NetError);
  assert.equal(err.kind, "aborted");
  assert.equal(err.cause, reason);
  await t.client.write(text("ok"));
  assert.equal(await t.server.read(new Uint8Array(4)), 2);
  const aborted = await t.server.read(new Uint8Array(4), { signal: AbortSignal.abort() }).catch((
    e,
  ) => e);
  assert.equal(aborted.kind, "aborted");
});

Deno.test("a write deadline fails a blocked write with the bytes accepted; settled is the final count", async () => {
  await using t = await pair();
  const chunk = new Uint8Array(1 << 20).fill(1);
  let accepted = 0;
  let err: unknown;
  t.client.setWriteDeadline(Date.now() + 200);
  while (err === undefined) {
    await t.client.write(chunk).then((n) => accepted += n, (e) => err = e);
  }
  assert.ok(err instanceof TimeoutError);
  assert.equal(err.op, "write");
  const partial = err.bytesWritten!;
  assert.ok(partial >= 0 && partial < chunk.length);
  chunk.fill(2); // the caller reuses its buffer: the stranded write must not send it
  t.client.setWriteDeadline(null);
  const tail = t.client.write(text("!"));
  const received = readAll(t.server, Infinity); // to EOF
  const final = await err.settled!;
  assert.ok(final >= partial && final <= chunk.length);
  assert.equal(await tail, 1);
  await t.client.closeWrite();
  const got = await received;
  assert.equal(got.length, accepted + final + 1);
  assert.ok(got.subarray(0, accepted + final).every((b) => b === 1), "changed bytes were sent");
  assert.equal(got.at(-1), "!".charCodeAt(0));
});

Deno.test("a write the kernel takes at once is written, even if the deadline passes right after", async () => {
  await using t = await pair();
  for (let i = 0; i < 20; i++) {
    t.client.setWriteDeadline(null);
    const write = t.client.write(new Uint8Array(1024).fill(i));
    t.client.setWriteDeadline(Date.now() - 1); // passed, while the write is in the kernel
    assert.equal(await write, 1024, "a write that never waited is written, as in Go");
  }
  t.client.setWriteDeadline(null);
  const got = await readAtLeast(t.server, 20 * 1024);
  for (let i = 0; i < 20; i++) {
    assert.ok(got.subarray(i * 1024, (i + 1) * 1024).every((b) => b === i), `write ${i}`);
  }
});

Deno.test("a deadline moved into the past and cleared at once never reaches a later operation", async (t) => {
  await t.step("writes: a small write queued after the move is not failed", async () => {
    await using p = await pair();
    // Block the writer: the peer does not read.
    const big = new Uint8Array(16 << 20);
    const blocked = p.client.write(big).catch((e) => e);
    await mustNotSettle(blocked, 50, "a 16 MiB write to a peer that does not read");
    const queued = p.client.write(text("queued")).catch((e) => e);
    p.client.setWriteDeadline(Date.now() - 1);
    p.client.setWriteDeadline(null);
    const later = p.client.write(text("later")); // issued after the deadline was cleared
    const [blockedErr, queuedErr] = await Promise.all([blocked, queued]);
    assert.ok(blockedErr instanceof TimeoutError, "the waiting write timed out");
    assert.ok(queuedErr instanceof TimeoutError, "the write waiting in line timed out");
    assert.equal(queuedErr.bytesWritten, 0);
    const reading = readAll(p.server, Infinity);
    await mustSettle(blockedErr.settled ?? Promise.resolve(0), 5000, "the stranded write");
    assert.equal(await later, 5, "a write issued with no deadline does not time out");
    await p.client.closeWrite();
    const got = await reading;
    assert.equal(new TextDecoder().decode(got.subarray(got.length - 5)), "later");
  });
  await t.step("reads: a read issued after the move waits for data", async () => {
    await using p = await pair();
    const waiting = p.server.read(new Uint8Array(8)).catch((e) => e);
    p.server.setReadDeadline(Date.now() - 1);
    p.server.setReadDeadline(null);
    const later = p.server.read(new Uint8Array(8));
    assert.ok((await waiting) instanceof TimeoutError);
    await mustNotSettle(later, 30, "a read issued with no deadline");
    await p.client.write(text("data"));
    assert.equal(await later, 4);
  });
  await t.step("accepts: an accept issued after the move waits for a conn", async () => {
    await using ln = listen("127.0.0.1:0");
    const waiting = ln.accept().catch((e) => e);
    ln.setDeadline(Date.now() - 1);
    ln.setDeadline(null);
    const later = ln.accept();
    assert.ok((await waiting) instanceof TimeoutError);
    await mustNotSettle(later, 30, "an accept issued with no deadline");
    await using client = await dial(ln.addr);
    await using server = await later;
    assert.equal(server.remoteAddr.port, client.localAddr.port);
  });
});

Deno.test("close fails pending and later operations with ClosedError", async () => {
  await using t = await pair();
  const read = t.client.read(new Uint8Array(4)).catch((e) => e);
  const big = t.client.write(new Uint8Array(64 << 20)).catch((e) => e);
  const queued = t.client.write(new Uint8Array(10)).catch((e) => e);
  await mustNotSettle(read, 20, "a read before close");
  t.client.close();
  const [r, w, q] = await Promise.all([read, big, queued]);
  for (const e of [r, w, q]) {
    assert.ok(e instanceof ClosedError, String(e));
    assert.ok(e.message.includes("use of closed network connection"));
  }
  assert.ok(w.bytesWritten > 0, "the big write reports what the OS took");
  assert.equal(q.bytesWritten, 0);
  t.client.close(); // twice is fine
  assert.ok(await t.client.read(new Uint8Array(1)).catch((e) => e) instanceof ClosedError);
  assert.ok(await t.client.write(new Uint8Array(1)).catch((e) => e) instanceof ClosedError);
  await assert.rejects(t.client.closeWrite(), ClosedError);
  for (const set of [() => t.client.setDeadline(null), () => t.client.setNoDelay(true)]) {
    assert.throws(set, ClosedError);
  }
});

Deno.test("the peer's close reads as the remaining data, then EOF", async () => {
  await using t = await pair();
  await t.client.write(text("last words"));
  t.client.close();
  assert.equal(new TextDecoder().decode(await readAll(t.server, 100)), "last words");
  assert.equal(await t.server.read(new Uint8Array(4)), null);
  assert.equal(await t.server.read(new Uint8Array(4)), null);
});

Deno.test("closeWrite sends EOF after queued writes; the conn still reads", async () => {
  await using t = await pair();
  const write = t.client.write(new Uint8Array(1 << 20).fill(5));
  const closing = t.client.closeWrite();
  const got = await readAll(t.server, 2 << 20);
  assert.equal(got.length, 1 << 20);
  await Promise.all([write, closing]);
  assert.equal(await t.server.read(new Uint8Array(1)), null);
  await t.server.write(text("reply"));
  assert.equal(new TextDecoder().decode(await readAll(t.client, 5)), "reply");
  const err = await t.client.write(text("x")).catch((e) => e);
  assert.ok(err instanceof NetError);
  assert.equal(err.kind, "broken-pipe");
});

Deno.test("stats count bytes and operations each way", async () => {
  await using t = await pair();
  await t.client.write(text("hello"));
  await t.client.write(text("!"));
  await readAll(t.server, 6);
  const c = t.client.stats();
  const s = t.server.stats();
  assert.equal(c.bytesWritten, 6);
  assert.equal(c.writes, 2);
  assert.equal(c.writeQueueDepth, 0);
  assert.equal(s.bytesRead, 6);
  assert.ok(s.reads >= 1);
  assert.equal(s.bytesWritten, 0);
});

Deno.test("readable and writable streams echo with the conn's guarantees", async () => {
  await using t = await pair();
  const echo = t.server.readable.pipeTo(t.server.writable);
  const writer = t.client.writable.getWriter();
  const payload = Uint8Array.from({ length: 200_000 }, (_, i) => i & 255);
  await writer.write(payload);
  await writer.close(); // closeWrite: the server's readable ends, its pipe closes its writable
  const reader = t.client.readable.getReader({ mode: "byob" });
  const got = new Uint8Array(payload.length);
  let at = 0;
  while (true) {
    const { done, value } = await reader.read(new Uint8Array(65536));
    if (done) break;
    got.set(value, at);
    at += value.length;
  }
  await echo;
  assert.equal(at, payload.length);
  assert.deepEqual(got, payload);
});

Deno.test("a default stream reader gets chunks of the data", async () => {
  await using t = await pair();
  await t.client.write(text("stream me"));
  t.client.close();
  const chunks: Uint8Array[] = [];
  for await (const chunk of t.server.readable) chunks.push(chunk);
  assert.equal(
    new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
    "stream me",
  );
});

Deno.test("default stream chunks are the reader's: later reads never overwrite them", async () => {
  await using t = await pair();
  const reader = t.server.readable.getReader();
  const kept: Uint8Array[] = [];
  // Large chunks (the read buffer given away) and small ones (copies), in turn.
  for (const [size, fill] of [[60_000, 1], [100, 2], [60_000, 3], [10, 4], [60_000, 5]]) {
    await t.client.write(new Uint8Array(size!).fill(fill!));
    let got = 0;
    while (got < size!) {
      const { value } = await reader.read();
      got += value!.length;
      kept.push(value!);
    }
  }
  const fills = kept.map((c) => {
    assert.ok(c.every((b) => b === c[0]), "a chunk changed after it was handed out");
    return c[0];
  });
  assert.deepEqual([...new Set(fills)], [1, 2, 3, 4, 5]);
  reader.releaseLock();
});

Deno.test("addresses are the socket's, IPv4 shown plainly", async () => {
  await using t = await pair();
  assert.equal(t.client.remoteAddr.hostname, "127.0.0.1");
  assert.equal(t.client.remoteAddr.port, t.ln.addr.port);
  assert.equal(t.server.remoteAddr.port, t.client.localAddr.port);
  await using ln = listen(":0");
  await using c = await dial(`127.0.0.1:${ln.addr.port}`);
  await using s = await ln.accept();
  assert.equal(s.remoteAddr.hostname, "127.0.0.1");
  assert.equal(c.localAddr.port, s.remoteAddr.port);
});

Deno.test("a read deadline errors the readable stream; the conn and a fresh stream go on", async () => {
  await using t = await pair();
  const stream = t.server.readable;
  const reader = stream.getReader();
  const pending = reader.read();
  await mustNotSettle(pending, 20, "a stream read with no data");
  t.server.setReadDeadline(Date.now() - 1);
  assert.ok(await pending.catch((e) => e) instanceof TimeoutError);
  t.server.setReadDeadline(null);
  await t.client.write(text("after"));
  assert.notEqual(t.server.readable, stream);
  const next = await t.server.readable.getReader().read();
  assert.equal(new TextDecoder().decode(next.value), "after");
});
