import assert from "node:assert/strict";
import {
  BufReader,
  BufWriter,
  FrameReader,
  FrameWriter,
  MessageTooLargeError,
  type Reader,
  UnexpectedEofError,
  type Writer,
} from "../../bufio/mod.ts";
import {
  BytesReader,
  ErrAfterReader,
  OneByteReader,
  READER_KINDS,
  RecordingWriter,
  ScriptReader,
} from "../_iotest.ts";
import { concat, pattern } from "../../_kit/bytes.ts";

function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

const SIZES = [0, 1, 11, 12, 13, 16, 17, 100, 4092, 4096, 4097, 70_000];

Deno.test("FrameReader returns every frame whole across reader kinds and buffer sizes", async () => {
  const payloads = SIZES.map((n, i) => pattern(n, i + 1));
  const wire = concat(payloads.map(frame));
  for (const [kind, make] of Object.entries(READER_KINDS)) {
    for (const bufferSize of [16, 64, 4096, 65536]) {
      const reader = new FrameReader(make(wire), { bufferSize });
      const got: Uint8Array[] = [];
      for await (const f of reader) got.push(f.slice());
      assert.deepEqual(got, payloads, `${kind}, buffer ${bufferSize}`);
      assert.equal(await reader.readFrame(), null);
    }
  }
});

Deno.test("FrameReader returns small frames as views and large ones as new arrays", async () => {
  const br = new BufReader(new BytesReader(concat([frame(pattern(8)), frame(pattern(40))])), 16);
  const reader = new FrameReader(br);
  const small = await reader.readFrame();
  assert.equal(small!.byteLength, 8);
  assert.ok(small!.buffer.byteLength === 16, "a view of the 16-byte buffer");
  const large = await reader.readFrame();
  assert.deepEqual(large, pattern(40));
  assert.equal(large!.buffer.byteLength, 40);
});

Deno.test("FrameReader rejects a header claiming 4 GiB at once, and stays failed", async () => {
  let served = 0;
  const hostile: Reader = {
    read(p) {
      const header = [0xff, 0xff, 0xff, 0xff];
      const n = Math.min(p.length, 4);
      for (let i = 0; i < n; i++) p[i] = header[i]!;
      served += n;
      return Promise.resolve(n);
    },
  };
  const reader = new FrameReader(hostile);
  const err = await reader.readFrame().catch((e) => e);
  assert.ok(err instanceof MessageTooLargeError);
  assert.equal(err.size, 0xffff_ffff);
  assert.equal(err.limit, 16 * 1024 * 1024);
  assert.match(err.message, /4294967295/);
  assert.ok(served <= 4096);
  assert.equal(await reader.readFrame().catch((e) => e), err);
});

Deno.test("FrameReader honours maxFrameSize exactly", async () => {
  const wire = concat([frame(pattern(10)), frame(pattern(11))]);
  const reader = new FrameReader(new BytesReader(wire), { maxFrameSize: 10 });
  assert.equal(reader.maxFrameSize, 10);
  assert.deepEqual(await reader.readFrame(), pattern(10));
  await assert.rejects(reader.readFrame(), MessageTooLargeError);
  for (const bad of [-1, 1.5, NaN, 2 ** 32]) {
    assert.throws(() => new FrameReader(new BytesReader(""), { maxFrameSize: bad }), RangeError);
    assert.throws(() => new FrameWriter(new RecordingWriter(), { maxFrameSize: bad }), RangeError);
  }
  assert.throws(() => new FrameReader(new BytesReader(""), { bufferSize: -1 }), RangeError);
});

Deno.test("FrameReader: the stream ending inside a header or payload is UnexpectedEofError", async () => {
  const cases: [Uint8Array, number, number][] = [
    [new Uint8Array([0, 0]), 2, 4], // header cut
    [concat([new Uint8Array([0, 0, 0, 9]), pattern(5)]), 5, 9], // small payload cut
    [concat([new Uint8Array([0, 0, 0x10, 0]), pattern(100)]), 100, 4096], // large payload cut
    [new Uint8Array([0, 0, 0x10, 0]), 0, 4096], // large payload missing
  ];
  for (const [wire, have, want] of cases) {
    for (const [kind, make] of Object.entries(READER_KINDS)) {
      const reader = new FrameReader(make(wire), { bufferSize: 16 });
      const err = await reader.readFrame().catch((e) => e);
      assert.ok(err instanceof UnexpectedEofError, `${kind}: ${err}`);
      assert.equal(err.partial.length, have);
      assert.equal(err.expected, want);
      assert.equal(await reader.readFrame().catch((e) => e), err, "sticky");
    }
  }
});

Deno.test("FrameReader passes on the source's error and stays failed", async () => {
  const boom = new Error("boom");
  const wire = concat([frame(pattern(5)), frame(pattern(5))]);
  const reader = new FrameReader(new ErrAfterReader(new BytesReader(wire), 12, boom), {
    bufferSize: 16,
  });
  assert.deepEqual(await reader.readFrame(), pattern(5));
  await assert.rejects(reader.readFrame(), (e) => e === boom);
  await assert.rejects(reader.readFrame(), (e) => e === boom);
});

Deno.test("FrameReader: a source error inside a small frame loses nothing; inside a large one it is sticky", async () => {
  const timeout = new Error("timeout");
  const wire = concat([frame(pattern(10, 1)), frame(pattern(10, 2))]);
  for (const cut of [0, 2, 4, 9, 14, 16]) {
    const reader = new FrameReader(
      new ScriptReader(
        [wire.slice(0, cut), timeout, wire.slice(cut)].filter((x) =>
          !(x instanceof Uint8Array) || x.length !== 0
        ),
      ),
      { bufferSize: 16 },
    );
    const got: Uint8Array[] = [];
    let timeouts = 0;
    for (;;) {
      try {
        const f = await reader.readFrame();
        if (f === null) break;
        got.push(f.slice());
      } catch (err) {
        assert.equal(err, timeout);
        timeouts++;
      }
    }
    assert.equal(timeouts, 1);
    assert.deepEqual(got, [pattern(10, 1), pattern(10, 2)], `cut at ${cut}`);
  }
  const large = new FrameReader(
    new ScriptReader([frame(pattern(40)).slice(0, 20), timeout, frame(pattern(40)).slice(20)]),
    { bufferSize: 16 },
  );
  await assert.rejects(large.readFrame(), (e) => e === timeout);
  await assert.rejects(large.readFrame(), (e) => e === timeout);
});

Deno.test("FrameReader handles a one-byte trickler with bounded calls", async () => {
  const wire = concat([frame(pattern(300)), frame(new Uint8Array(0)), frame(pattern(3))]);
  const source = new BytesReader(wire);
  const reader = new FrameReader(new OneByteReader(source), { bufferSize: 16 });
  const got = [];
  for await (const f of reader) got.push(f.slice());
  assert.deepEqual(got, [pattern(300), new Uint8Array(0), pattern(3)]);
  assert.ok(source.calls <= wire.length + 2);
});

Deno.test("FrameReader serves concurrent readFrame calls in order", async () => {
  const payloads = [pattern(3, 1), pattern(50, 2), pattern(0), pattern(20, 3)];
  const reader = new FrameReader(new OneByteReader(new BytesReader(concat(payloads.map(frame)))), {
    bufferSize: 16,
  });
  // Large frames are owned arrays; compare lengths for the views.
  const got = await Promise.all(payloads.map(() => reader.readFrame().then((f) => f!.length)));
  assert.deepEqual(got, [3, 50, 0, 20]);
});

Deno.test("FrameWriter puts each frame in exactly one write call", async () => {
  const sink = new RecordingWriter();
  const writer = new FrameWriter(sink);
  for (const n of SIZES) await writer.writeFrame(pattern(n, n));
  assert.equal(sink.writes.length, SIZES.length);
  for (const [i, n] of SIZES.entries()) assert.deepEqual(sink.writes[i], frame(pattern(n, n)));
});

Deno.test("FrameWriter completes frames over a writer that accepts part of each write", async () => {
  const sink = new RecordingWriter();
  sink.limit = 7;
  const writer = new FrameWriter(sink);
  const payloads = [pattern(30, 1), pattern(0), pattern(9, 2)];
  await Promise.all(payloads.map((p) => writer.writeFrame(p)));
  assert.deepEqual(sink.bytes(), concat(payloads.map(frame)));
});

Deno.test("FrameWriter refuses an oversized frame without writing and stays usable", async () => {
  const sink = new RecordingWriter();
  const writer = new FrameWriter(sink, { maxFrameSize: 4 });
  assert.equal(writer.maxFrameSize, 4);
  const err = await writer.writeFrame(pattern(5)).catch((e) => e);
  assert.ok(err instanceof MessageTooLargeError);
  assert.equal(err.size, 5);
  assert.equal(err.limit, 4);
  assert.equal(sink.writes.length, 0);
  await writer.writeFrame(pattern(4));
  assert.deepEqual(sink.bytes(), frame(pattern(4)));
});

Deno.test("FrameWriter errors are sticky", async () => {
  const boom = new Error("boom");
  const sink = new RecordingWriter();
  sink.failNext = boom;
  const writer = new FrameWriter(sink);
  await assert.rejects(writer.writeFrame(pattern(3)), (e) => e === boom);
  await assert.rejects(writer.writeFrame(pattern(3)), (e) => e === boom);
  assert.equal(sink.writes.length, 0);
});

Deno.test("FrameWriter sends queued frames one at a time, in call order", async () => {
  let inFlight = 0;
  const got: Uint8Array[] = [];
  const slow: Writer = {
    async write(p) {
      assert.equal(++inFlight, 1, "one write at a time");
      got.push(p.slice());
      await new Promise((r) => setTimeout(r, 0));
      inFlight--;
      return p.length;
    },
  };
  const writer = new FrameWriter(slow);
  const payloads = [pattern(10, 1), pattern(70_000, 2), pattern(0), pattern(10, 3)];
  await Promise.all(payloads.map((p) => writer.writeFrame(p)));
  assert.deepEqual(got, payloads.map(frame));
});

Deno.test("FrameWriter over a BufWriter batches frames into few writes", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 4096);
  const writer = new FrameWriter(bw);
  for (let i = 0; i < 100; i++) await writer.writeFrame(pattern(36, i + 1));
  await bw.flush();
  assert.equal(sink.writes.length, 1);
  const reader = new FrameReader(new BytesReader(sink.bytes()));
  let i = 0;
  for await (const f of reader) assert.deepEqual(f, pattern(36, ++i));
  assert.equal(i, 100);
});

Deno.test("FrameWriter over a small BufWriter: frames that do not fit take the slow path, in order", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  const writer = new FrameWriter(bw);
  const payloads = [pattern(10, 1), pattern(1, 2), pattern(30, 3), pattern(0), pattern(11, 4)];
  await Promise.all(payloads.map((p) => writer.writeFrame(p)));
  await bw.flush();
  assert.deepEqual(sink.bytes(), concat(payloads.map(frame)));
});

Deno.test("FrameWriter and FrameReader round-trip through web streams", async () => {
  const pipe = new TransformStream<Uint8Array, Uint8Array>({}, undefined, { highWaterMark: 64 });
  const writer = new FrameWriter(pipe.writable);
  const reader = new FrameReader(pipe.readable);
  const payloads = [pattern(5000, 1), pattern(0), pattern(17, 2)];
  for (const p of payloads) await writer.writeFrame(p);
  const got = [];
  for (let i = 0; i < payloads.length; i++) got.push((await reader.readFrame())!.slice());
  assert.deepEqual(got, payloads);
});
