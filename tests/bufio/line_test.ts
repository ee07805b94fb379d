import assert from "node:assert/strict";
import {
  BufReader,
  LineReader,
  LineWriter,
  MessageTooLargeError,
  type Reader,
} from "../../bufio/mod.ts";
import {
  BUFFER_SIZES,
  BytesReader,
  EndlessReader,
  ErrAfterReader,
  READER_KINDS,
  RecordingWriter,
  ScriptReader,
} from "../_iotest.ts";
import { enc } from "../../_kit/bytes.ts";

Deno.test("LineReader returns every line across reader kinds and buffer sizes", async () => {
  const lines = ["", "a", "é€😀", "x".repeat(15), "y".repeat(16), "z".repeat(17), "w".repeat(5000)];
  for (const ending of ["\n", "\r\n"]) {
    const text = enc(lines.join(ending) + ending + "last");
    for (const [kind, make] of Object.entries(READER_KINDS)) {
      for (const bufferSize of BUFFER_SIZES) {
        if (kind === "one-byte" && bufferSize > 4096) continue;
        const got = await Array.fromAsync(new LineReader(make(text), { bufferSize }));
        assert.deepEqual(got, [...lines, "last"], `${kind}, buffer ${bufferSize}`);
      }
    }
  }
});

Deno.test("LineReader keeps a \\r\\n split across buffer fills out of the line", async () => {
  const text = "a".repeat(15) + "\r\n" + "b".repeat(31) + "\r\n";
  const got = await Array.fromAsync(new LineReader(new BytesReader(text), { bufferSize: 16 }));
  assert.deepEqual(got, ["a".repeat(15), "b".repeat(31)]);
});

Deno.test("LineReader stops an endless line at maxLineLength with bounded reads", async () => {
  const endless = new EndlessReader();
  const lines = new LineReader(endless, { maxLineLength: 10_000, bufferSize: 1024 });
  const err = await lines.readLine().catch((e) => e);
  assert.ok(err instanceof MessageTooLargeError);
  assert.equal(err.limit, 10_000);
  assert.ok(err.size > 10_000 && err.size <= 10_000 + 1024);
  assert.ok(endless.served <= 10_000 + 2 * 1024, `read ${endless.served} bytes`);
  assert.equal(await lines.readLine().catch((e) => e), err, "sticky");
});

Deno.test("LineReader stops an endless line from a one-byte trickler", async () => {
  let served = 0;
  const trickle: Reader = {
    read(p) {
      p[0] = 0x62;
      served++;
      return Promise.resolve(1);
    },
  };
  const lines = new LineReader(trickle, { maxLineLength: 500, bufferSize: 64 });
  await assert.rejects(lines.readLine(), MessageTooLargeError);
  assert.ok(served <= 500 + 64);
});

Deno.test("LineReader applies maxLineLength exactly, without the line ending", async () => {
  for (const bufferSize of [16, 4096]) {
    const text = "12345\r\n123456\n";
    const lines = new LineReader(new BytesReader(text), { maxLineLength: 5, bufferSize });
    assert.equal(lines.maxLineLength, 5);
    assert.equal(await lines.readLine(), "12345");
    await assert.rejects(lines.readLine(), MessageTooLargeError);
  }
  for (const bad of [-1, 1.5, NaN, 2 ** 31]) {
    assert.throws(() => new LineReader(new BytesReader(""), { maxLineLength: bad }), RangeError);
    assert.throws(() => new LineWriter(new RecordingWriter(), { maxLineLength: bad }), RangeError);
  }
});

Deno.test("LineReader turns invalid UTF-8 into U+FFFD", async () => {
  const lines = new LineReader(new BytesReader(new Uint8Array([0x61, 0xff, 0x0a])));
  assert.equal(await lines.readLine(), "a\uFFFD");
});

Deno.test("LineReader: a source error inside a short line loses nothing; inside a long one it is sticky", async () => {
  const timeout = new Error("timeout");
  const lines = new LineReader(new ScriptReader([enc("ok\npar"), timeout, enc("tial\n")]));
  assert.equal(await lines.readLine(), "ok");
  await assert.rejects(lines.readLine(), (e) => e === timeout);
  assert.equal(await lines.readLine(), "partial");
  assert.equal(await lines.readLine(), null);

  const long = new LineReader(new ScriptReader([enc("x".repeat(20)), timeout, enc("y\n")]), {
    bufferSize: 16,
  });
  await assert.rejects(long.readLine(), (e) => e === timeout);
  await assert.rejects(long.readLine(), (e) => e === timeout);
});

Deno.test("LineReader passes on the source's error after the lines before it", async () => {
  const boom = new Error("boom");
  const lines = new LineReader(new ErrAfterReader(new BytesReader("ok\npartial"), 6, boom));
  assert.equal(await lines.readLine(), "ok");
  await assert.rejects(lines.readLine(), (e) => e === boom);
  await assert.rejects(lines.readLine(), (e) => e === boom);
});

Deno.test("LineReader shares a BufReader with other reads", async () => {
  const br = new BufReader(new BytesReader("HEAD\nbody"));
  const lines = new LineReader(br);
  assert.equal(await lines.readLine(), "HEAD");
  assert.equal(await br.readString(0x0a), "body");
});

Deno.test("LineReader serves concurrent calls in order", async () => {
  const lines = new LineReader(READER_KINDS["one-byte"]!(enc("a\nbb\n\nccc")), { bufferSize: 16 });
  const got = await Promise.all([1, 2, 3, 4, 5].map(() => lines.readLine()));
  assert.deepEqual(got, ["a", "bb", "", "ccc", null]);
});

Deno.test("LineWriter puts each line and its \\n in one write call", async () => {
  const sink = new RecordingWriter();
  const writer = new LineWriter(sink, { maxLineLength: 100_000 });
  await writer.writeLine("hello");
  await writer.writeLine("");
  await writer.writeLine(enc("bytes\r too"));
  await writer.writeLine("é".repeat(40_000));
  assert.deepEqual(
    sink.writes.map((w) => new TextDecoder().decode(w)),
    ["hello\n", "\n", "bytes\r too\n", "é".repeat(40_000) + "\n"],
  );
});

Deno.test("LineWriter refuses lines that would not read back the same, and oversized ones", async () => {
  const sink = new RecordingWriter();
  const writer = new LineWriter(sink, { maxLineLength: 4 });
  await assert.rejects(writer.writeLine("a\nb"), TypeError);
  await assert.rejects(writer.writeLine(enc("a\n")), TypeError);
  await assert.rejects(writer.writeLine("ab\r"), TypeError);
  const err = await writer.writeLine("12345").catch((e) => e);
  assert.ok(err instanceof MessageTooLargeError);
  assert.equal(err.size, 5);
  await assert.rejects(writer.writeLine("ééé"), MessageTooLargeError); // 6 bytes
  assert.equal(sink.writes.length, 0);
  await writer.writeLine("1234");
  assert.equal(sink.text(), "1234\n");
  // The limit counts UTF-8 bytes, a lone surrogate as the 3 of U+FFFD.
  const exact = new LineWriter(sink, { maxLineLength: 7 });
  await exact.writeLine("😀\uD800");
  await assert.rejects(exact.writeLine("😀\uD800a"), MessageTooLargeError);
  assert.deepEqual(sink.writes.at(-1), enc("😀\uFFFD\n"));
});

Deno.test("LineWriter errors are sticky; short writes still deliver whole lines", async () => {
  const boom = new Error("boom");
  const failing = new RecordingWriter();
  failing.failNext = boom;
  const writer = new LineWriter(failing);
  await assert.rejects(writer.writeLine("x"), (e) => e === boom);
  await assert.rejects(writer.writeLine("y"), (e) => e === boom);

  const short = new RecordingWriter();
  short.limit = 2;
  const lines = new LineWriter(short);
  await Promise.all(["one", "two", "three"].map((l) => lines.writeLine(l)));
  assert.equal(short.text(), "one\ntwo\nthree\n");
});

Deno.test("LineWriter and LineReader round-trip through web streams", async () => {
  const pipe = new TransformStream<Uint8Array, Uint8Array>({}, undefined, { highWaterMark: 64 });
  const writer = new LineWriter(pipe.writable);
  const reader = new LineReader(pipe.readable);
  for (const line of ["first", "", "третья"]) await writer.writeLine(line);
  assert.deepEqual(
    [await reader.readLine(), await reader.readLine(), await reader.readLine()],
    ["first", "", "третья"],
  );
});
