import assert from "node:assert/strict";
import { BufWriter, NoProgressError, type Writer } from "../../bufio/mod.ts";
import {
  BUFFER_SIZES,
  BytesReader,
  HalfReader,
  OneByteReader,
  READER_KINDS,
  RecordingWriter,
  ScriptReader,
} from "../_iotest.ts";
import { concat, dec, enc, pattern } from "../../_kit/bytes.ts";

Deno.test("BufWriter delivers every byte in order across write sizes and buffer sizes", async () => {
  const data = pattern(8192);
  for (const size of BUFFER_SIZES) {
    for (const chunk of [1, 2, 7, 15, 16, 17, 100, 4096, 8192]) {
      for (const fast of [false, true]) {
        const sink = new RecordingWriter();
        const bw = new BufWriter(sink, size);
        for (let off = 0; off < data.length; off += chunk) {
          const p = data.subarray(off, off + chunk);
          if (!fast || !bw.tryWrite(p)) assert.equal(await bw.write(p), p.length);
        }
        await bw.flush();
        assert.equal(bw.buffered(), 0);
        assert.deepEqual(sink.bytes(), data, `buffer ${size}, chunk ${chunk}, tryWrite ${fast}`);
        for (const w of sink.writes) assert.ok(w.length <= Math.max(size, chunk));
      }
    }
  }
});

Deno.test("BufWriter buffers until full, then writes the whole buffer in one call", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  assert.equal(bw.size, 16);
  assert.equal(bw.available(), 16);
  await bw.write(enc("0123456789"));
  assert.equal(sink.writes.length, 0);
  assert.equal(bw.buffered(), 10);
  assert.equal(bw.available(), 6);
  await bw.write(enc("abcdefghij"));
  assert.deepEqual(sink.writes.map(dec), ["0123456789abcdef"]);
  assert.equal(bw.buffered(), 4);
  await bw.flush();
  assert.deepEqual(sink.writes.map(dec), ["0123456789abcdef", "ghij"]);
  await bw.flush(); // nothing buffered: no write
  assert.equal(sink.writes.length, 2);
});

Deno.test("BufWriter sends a large write straight through when the buffer is empty", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  const big = pattern(100);
  await bw.write(big);
  assert.equal(sink.given.length, 1);
  assert.equal(sink.given[0], big, "the caller's array itself, not a copy");
  // With bytes buffered, the buffer is topped up and flushed first.
  await bw.write(enc("xy"));
  await bw.write(big);
  assert.equal(sink.given.length, 3);
  assert.equal(sink.given[1]!.length, 16);
  assert.deepEqual(sink.given[1]!.subarray(0, 2), enc("xy"));
  assert.deepEqual(sink.bytes(), concat([big, enc("xy"), big]));
});

Deno.test("BufWriter keeps writing after a short count until everything is accepted", async () => {
  for (const limit of [1, 3, 7]) {
    const sink = new RecordingWriter();
    sink.limit = limit;
    const bw = new BufWriter(sink, 16);
    const data = pattern(200);
    await bw.write(data.subarray(0, 5));
    await bw.write(data.subarray(5)); // fills, flushes in short writes, then goes direct
    await bw.flush();
    assert.deepEqual(sink.bytes(), data);
    assert.ok(sink.writes.every((w) => w.length <= limit));
  }
});

Deno.test("BufWriter errors are sticky until reset, and unaccepted bytes stay buffered", async () => {
  const boom = new Error("boom");
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  await bw.write(enc("abcdef"));
  sink.failNext = boom;
  await assert.rejects(bw.flush(), (e) => e === boom);
  assert.equal(bw.buffered(), 6);
  for (
    const op of [
      () => bw.flush(),
      () => bw.write(enc("x")),
      () => bw.write(new Uint8Array(0)),
      () => bw.write(pattern(100)),
      () => bw.writeByte(1),
      () => bw.writeString("x"),
      () => bw.readFrom(new BytesReader("x")),
    ]
  ) {
    await assert.rejects(op(), (e) => e === boom);
  }
  assert.equal(bw.tryWrite(enc("x")), false);
  assert.equal(sink.writes.length, 0, "nothing reached the writer after the failure");
  bw.reset(sink);
  assert.equal(bw.buffered(), 0);
  await bw.write(enc("ok"));
  await bw.flush();
  assert.equal(sink.text(), "ok");
});

Deno.test("BufWriter after a partial write and an error keeps exactly the unaccepted bytes", async () => {
  const boom = new Error("boom");
  let calls = 0;
  const accepted: Uint8Array[] = [];
  const flaky: Writer = {
    write(p) {
      if (calls++ === 0) {
        accepted.push(p.slice(0, 4));
        return Promise.resolve(4);
      }
      return Promise.reject(boom);
    },
  };
  const bw = new BufWriter(flaky, 16);
  await bw.write(enc("0123456789"));
  await assert.rejects(bw.flush(), (e) => e === boom);
  assert.deepEqual(accepted.map(dec), ["0123"]);
  assert.equal(bw.buffered(), 6);
});

Deno.test("BufWriter write that fills and flushes the buffer keeps it whole when the flush fails", async () => {
  const boom = new Error("boom");
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  await bw.write(enc("0123456789"));
  sink.failNext = boom;
  await assert.rejects(bw.write(enc("abcdefghij")), (e) => e === boom);
  assert.equal(bw.buffered(), 16, "the topped-up buffer, none of it accepted");
  assert.equal(bw.tryWrite(enc("x")), false);
  await assert.rejects(bw.flush(), (e) => e === boom);
  bw.reset(sink);
  assert.equal(bw.tryWrite(enc("x")), true);
});

Deno.test("BufWriter direct writes make their error sticky too", async () => {
  const boom = new Error("boom");
  const sink = new RecordingWriter();
  sink.failNext = boom;
  const bw = new BufWriter(sink, 16);
  await assert.rejects(bw.write(pattern(64)), (e) => e === boom);
  await assert.rejects(bw.write(enc("a")), (e) => e === boom);
});

Deno.test("BufWriter fails with NoProgressError after 100 writes that accept nothing", async () => {
  let calls = 0;
  const stuck: Writer = {
    write() {
      calls++;
      return Promise.resolve(0);
    },
  };
  const bw = new BufWriter(stuck, 16);
  await bw.write(enc("abc"));
  await assert.rejects(bw.flush(), NoProgressError);
  assert.equal(calls, 100);
  await assert.rejects(bw.flush(), NoProgressError); // sticky
  assert.equal(calls, 100);
});

Deno.test("BufWriter rejects impossible counts from the writer", async () => {
  for (const bad of [-1, 4, 1.5, NaN]) {
    const bw = new BufWriter({ write: () => Promise.resolve(bad) }, 16);
    await bw.write(enc("abc"));
    await assert.rejects(bw.flush(), RangeError, String(bad));
  }
});

Deno.test("BufWriter writeByte and writeString, with multi-byte characters across the buffer edge", async () => {
  const text = "aé€😀".repeat(20) + "\uD800" + "z";
  for (const size of [16, 17, 18, 19, 64, 4096]) {
    const sink = new RecordingWriter();
    const bw = new BufWriter(sink, size);
    await bw.writeByte(0x3e);
    const n = await bw.writeString(text);
    assert.equal(n, enc(text).length);
    await bw.writeString("");
    await bw.flush();
    assert.equal(sink.text(), ">" + text.replace("\uD800", "\uFFFD"), `buffer ${size}`);
  }
  const bw = new BufWriter(new RecordingWriter());
  for (const bad of [-1, 256, 1.5, NaN]) await assert.rejects(bw.writeByte(bad), RangeError);
  assert.equal(bw.buffered(), 0);
});

Deno.test("BufWriter writeByte flushes a full buffer and goes on", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  for (let i = 0; i < 100; i++) await bw.writeByte(i);
  await bw.flush();
  assert.deepEqual(sink.bytes(), Uint8Array.from({ length: 100 }, (_, i) => i));
  assert.ok(sink.writes.every((w) => w.length <= 16));
});

Deno.test("BufWriter writeString of a long string flushes as it goes", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  const s = "0123456789".repeat(1000);
  assert.equal(await bw.writeString(s), 10_000);
  await bw.flush();
  assert.equal(sink.text(), s);
  assert.ok(sink.writes.every((w) => w.length <= 16));
});

Deno.test("BufWriter readFrom copies every reader kind across buffer sizes", async () => {
  const data = pattern(5000);
  for (const size of [16, 100, 4096, 65536]) {
    for (const [kind, make] of Object.entries(READER_KINDS)) {
      const sink = new RecordingWriter();
      const bw = new BufWriter(sink, size);
      await bw.write(enc("<"));
      assert.equal(await bw.readFrom(make(data)), 5000);
      await bw.flush();
      assert.deepEqual(sink.bytes(), concat([enc("<"), data]), `${kind}, buffer ${size}`);
    }
  }
});

Deno.test("BufWriter readFrom flushes a buffer the last read filled exactly, as Go", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  assert.equal(await bw.readFrom(new BytesReader(pattern(32))), 32);
  assert.equal(bw.buffered(), 0);
  assert.equal(sink.bytes().length, 32);
});

Deno.test("BufWriter readFrom: reader errors are thrown but not sticky; no-progress readers end", async () => {
  const boom = new Error("boom");
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  await assert.rejects(bw.readFrom(new ScriptReader([enc("ab"), boom])), (e) => e === boom);
  assert.equal(bw.buffered(), 2);
  const stuck = new ScriptReader(Array(200).fill(0));
  await assert.rejects(bw.readFrom(stuck), NoProgressError);
  assert.equal(stuck.calls, 100);
  await bw.write(enc("c"));
  await bw.flush();
  assert.equal(sink.text(), "abc");
  await assert.rejects(bw.readFrom(new ScriptReader([99])), RangeError);
});

Deno.test("BufWriter readFrom reads a ReadableStream and unlocks it", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  const stream = ReadableStream.from([enc("hello "), enc("stream")]);
  assert.equal(await bw.readFrom(stream), 12);
  assert.equal(stream.locked, false);
  await bw.flush();
  assert.equal(sink.text(), "hello stream");
});

Deno.test("BufWriter over a WritableStream sends copies, so reusing the buffer is safe", async () => {
  const pipe = new TransformStream<Uint8Array, Uint8Array>({}, undefined, {
    highWaterMark: 100,
  });
  const bw = new BufWriter(pipe.writable, 16);
  for (let i = 0; i < 10; i++) await bw.write(enc(String(i).repeat(10)));
  await bw.flush();
  bw.reset({ write: (p) => Promise.resolve(p.length) }); // unlocks the stream
  await pipe.writable.close();
  const chunks = await Array.fromAsync(pipe.readable);
  assert.equal(dec(concat(chunks)), [..."0123456789"].map((d) => d.repeat(10)).join(""));
});

Deno.test("BufWriter sizes: default 4096, 0 to 15 round up to 16, bad sizes throw", () => {
  const sink = new RecordingWriter();
  assert.equal(new BufWriter(sink).size, 4096);
  assert.equal(new BufWriter(sink, 0).size, 16);
  assert.equal(new BufWriter(sink, 1).size, 16);
  assert.equal(new BufWriter(sink, 100).size, 100);
  for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 31]) {
    assert.throws(() => new BufWriter(sink, bad), RangeError, String(bad));
  }
  assert.throws(() => new BufWriter({} as Writer), TypeError);
  const locked = new WritableStream<Uint8Array>();
  const w = locked.getWriter();
  assert.throws(() => new BufWriter(locked), TypeError);
  w.releaseLock();
});

Deno.test("BufWriter runs concurrent writes and flushes in call order, never mixing bytes", async () => {
  // A writer that takes a macrotask per call, so calls really overlap.
  const got: Uint8Array[] = [];
  const slow: Writer = {
    async write(p) {
      await new Promise((r) => setTimeout(r, 0));
      got.push(p.slice());
      return p.length;
    },
  };
  const bw = new BufWriter(slow, 16);
  const msgs = Array.from({ length: 40 }, (_, i) => enc(`<${i}:${"x".repeat(i % 23)}>`));
  const pending = msgs.map((m, i) =>
    i % 7 === 0 ? bw.flush().then(() => bw.write(m)) : bw.write(m)
  );
  assert.equal(bw.tryWrite(enc("!")), false, "tryWrite must not jump the queue");
  await Promise.all(pending);
  await bw.flush();
  const text = dec(concat(got));
  assert.ok(!text.includes("!"));
  // Every message is whole; order follows the calls (flush-then-write ones
  // go after the writes called before their flush finished).
  const found = text.match(/<\d+:x*>/g) ?? [];
  assert.equal(found.length, 40);
  assert.equal(found.join(""), text);
  const pendingReset = bw.write(pattern(64));
  assert.throws(() => bw.reset(slow), /pending/);
  await pendingReset;
});

Deno.test("BufWriter tryWrite only touches memory and says when it cannot", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  assert.equal(bw.tryWrite(new Uint8Array(0)), true);
  assert.equal(bw.tryWrite(enc("0123456789abcdef")), true);
  assert.equal(bw.tryWrite(enc("x")), false);
  assert.equal(bw.buffered(), 16);
  assert.equal(sink.writes.length, 0);
  await bw.write(enc("x"));
  await bw.flush();
  assert.equal(sink.text(), "0123456789abcdefx");
  // Large inputs through the copy path as well as the byte loop.
  assert.equal(bw.tryWrite(pattern(17).subarray(0, 16)), true);
});

Deno.test("BufWriter reads each source kind through readFrom with a half or one-byte reader", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 32);
  await bw.readFrom(new HalfReader(new BytesReader("half ")));
  await bw.readFrom(new OneByteReader(new BytesReader("one")));
  await bw.flush();
  assert.equal(sink.text(), "half one");
});
