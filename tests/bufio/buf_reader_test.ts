import assert from "node:assert/strict";
import {
  BufferFullError,
  BufReader,
  FrameReader,
  LineReader,
  NoProgressError,
  type Reader,
  UnexpectedEofError,
} from "../../bufio/mod.ts";
import {
  BUFFER_SIZES,
  BytesReader,
  byteStream,
  EndlessReader,
  ErrAfterReader,
  HalfReader,
  OneByteReader,
  READER_KINDS,
  ScriptReader,
} from "../_iotest.ts";
import { concat, dec, enc, pattern } from "../../_kit/bytes.ts";

// Ways to read everything from a BufReader, as Go's bufreaders table.
const READ_ALL: Record<string, (br: BufReader) => Promise<Uint8Array>> = {
  async "1-byte reads"(br) {
    return await collect(br, 1);
  },
  async "2-byte reads"(br) {
    return await collect(br, 2);
  },
  async "7-byte reads"(br) {
    return await collect(br, 7);
  },
  async "large reads"(br) {
    return await collect(br, 70000);
  },
  async readByte(br) {
    const out: number[] = [];
    for (let c; (c = await br.readByte()) !== null;) out.push(c);
    return new Uint8Array(out);
  },
  async readSlice(br) {
    const parts: Uint8Array[] = [];
    for (;;) {
      try {
        const s = await br.readSlice(0x0a);
        if (s === null) break;
        parts.push(s.slice());
      } catch (err) {
        assert.ok(err instanceof BufferFullError);
        parts.push(err.partial.slice());
      }
    }
    return concat(parts);
  },
  async readString(br) {
    let s = "";
    for (let part; (part = await br.readString(0x0a)) !== null;) s += part;
    return enc(s);
  },
  async readFull(br) {
    const parts: Uint8Array[] = [];
    for (;;) {
      try {
        const p = await br.readExact(5);
        if (p === null) break;
        parts.push(p);
      } catch (err) {
        assert.ok(err instanceof UnexpectedEofError);
        parts.push(err.partial.slice());
        break;
      }
    }
    return concat(parts);
  },
};

async function collect(br: BufReader, chunk: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const p = new Uint8Array(chunk);
  for (let n; (n = await br.read(p)) !== null;) {
    assert.ok(n > 0, "read resolved with 0 for a non-empty buffer");
    parts.push(p.slice(0, n));
  }
  return concat(parts);
}

Deno.test("BufReader reads every text whole across reader kinds, read methods and buffer sizes", async () => {
  const texts = [
    new Uint8Array(0),
    enc("a"),
    enc("hello\nworld\n"),
    enc("x".repeat(31) + "\n" + "y".repeat(17) + "\r\n" + "z".repeat(100)),
    enc("line\n".repeat(300)),
    pattern(3_000),
    pattern(70_000),
  ];
  for (const text of texts) {
    for (const [kind, make] of Object.entries(READER_KINDS)) {
      for (const [how, readAll] of Object.entries(READ_ALL)) {
        for (const size of BUFFER_SIZES) {
          if (how === "readString" && text.length >= 3_000) continue; // not UTF-8
          // Byte-at-a-time over 70 KB costs seconds and adds nothing.
          if (text.length > 3_000 && (kind === "one-byte" || /1|2|Byte/.test(how))) continue;
          const got = await readAll(new BufReader(make(text), size));
          assert.deepEqual(
            got,
            text,
            `${kind} reader, ${how}, buffer ${size}, ${text.length} bytes`,
          );
        }
      }
    }
  }
});

Deno.test("BufReader readLine returns the lines of every text across reader kinds and sizes", async () => {
  const lines = [
    "",
    "a",
    "b".repeat(15),
    "c".repeat(16),
    "d".repeat(17),
    "e\re",
    "f".repeat(100),
    "",
  ];
  for (const ending of ["\n", "\r\n"]) {
    const text = lines.join(ending) + "tail";
    const want = [...lines.slice(0, -1), "tail"];
    for (const [kind, make] of Object.entries(READER_KINDS)) {
      for (const size of BUFFER_SIZES) {
        const br = new BufReader(make(enc(text)), size);
        const got: string[] = [];
        let current = "";
        for (let r; (r = await br.readLine()) !== null;) {
          assert.ok(r.line.length <= size);
          current += dec(r.line);
          if (!r.more) {
            got.push(current);
            current = "";
          }
        }
        assert.deepEqual(
          got,
          want,
          `${kind} reader, buffer ${size}, ending ${JSON.stringify(ending)}`,
        );
      }
    }
  }
});

Deno.test("BufReader readLine keeps a \\r that ends a full buffer for the \\n after it", async () => {
  // 15 bytes, then "\r" as the 16th byte of a 16-byte buffer, then "\n".
  const br = new BufReader(new BytesReader("a".repeat(15) + "\r\nnext\n"), 16);
  const first = await br.readLine();
  assert.deepEqual(first, { line: enc("a".repeat(15)), more: true });
  const rest = await br.readLine();
  assert.deepEqual(rest, { line: enc(""), more: false });
  assert.equal(dec((await br.readLine())!.line), "next");
  assert.equal(await br.readLine(), null);
});

Deno.test("BufReader readLine leaves a lone \\r inside a line and at the end of the stream", async () => {
  const br = new BufReader(new BytesReader("a\rb\nc\r"));
  assert.equal(dec((await br.readLine())!.line), "a\rb");
  assert.equal(dec((await br.readLine())!.line), "c\r");
  assert.equal(await br.readLine(), null);
});

Deno.test("BufReader readSlice finds a delimiter in the last byte of the buffer", async () => {
  const br = new BufReader(new OneByteReader(new BytesReader("a".repeat(15) + "\n" + "b")), 16);
  const line = await br.readSlice(0x0a);
  assert.equal(line!.length, 16);
  assert.equal(dec((await br.readSlice(0x0a))!), "b");
  assert.equal(await br.readSlice(0x0a), null);
});

Deno.test("BufReader readSlice throws BufferFullError with the consumed buffer, then goes on", async () => {
  const br = new BufReader(new BytesReader("a".repeat(20) + "\nz"), 16);
  const err = await br.readSlice(0x0a).catch((e) => e);
  assert.ok(err instanceof BufferFullError);
  assert.equal(dec(err.partial), "a".repeat(16));
  assert.equal(dec((await br.readSlice(0x0a))!), "aaaa\n");
  assert.equal(await br.readByte(), 0x7a);
});

Deno.test("BufReader readSlice and readString reject a delimiter that is not a byte", async () => {
  const br = new BufReader(new BytesReader("abc"));
  for (const bad of [-1, 256, 1.5, NaN]) {
    await assert.rejects(br.readSlice(bad), RangeError);
    await assert.rejects(br.readString(bad), RangeError);
  }
  assert.equal(await br.readByte(), 0x61);
});

Deno.test("BufReader on empty input: every method reports the end", async () => {
  const br = () => new BufReader(new BytesReader(""));
  assert.equal(await br().read(new Uint8Array(4)), null);
  assert.equal(await br().read(new Uint8Array(0)), 0);
  assert.equal(await br().readByte(), null);
  assert.deepEqual(await br().peek(3), new Uint8Array(0));
  assert.equal(await br().readSlice(0x0a), null);
  assert.equal(await br().readLine(), null);
  assert.equal(await br().readString(0x0a), null);
  assert.equal(await br().readFull(new Uint8Array(2)), null);
  assert.deepEqual(await br().readFull(new Uint8Array(0)), new Uint8Array(0));
  assert.equal(await br().readExact(1), null);
  assert.equal(await br().discard(4), 0);
  assert.equal(await br().discard(0), 0);
  assert.equal(br().buffered(), 0);
});

Deno.test("BufReader unreadByte: after readByte, read, readSlice and readLine; not twice, not after peek or discard", async () => {
  const br = new BufReader(new BytesReader("abc\ndef"), 16);
  assert.throws(() => br.unreadByte(), /Cannot unread/); // nothing read yet
  assert.equal(await br.readByte(), 0x61);
  br.unreadByte();
  assert.throws(() => br.unreadByte(), /Cannot unread/);
  assert.equal(await br.readByte(), 0x61);
  await br.peek(1);
  assert.throws(() => br.unreadByte(), /Cannot unread/);
  const p = new Uint8Array(2);
  assert.equal(await br.read(p), 2);
  br.unreadByte();
  assert.equal(await br.readByte(), 0x63);
  await br.readSlice(0x0a);
  br.unreadByte();
  assert.equal(await br.readByte(), 0x0a);
  await br.discard(1);
  assert.throws(() => br.unreadByte(), /Cannot unread/);
  assert.deepEqual(await br.readLine(), { line: enc("ef"), more: false });
  br.unreadByte();
  assert.equal(await br.readByte(), 0x66);
});

Deno.test("BufReader unreadByte works on an empty buffer after the last byte was read", async () => {
  const br = new BufReader(new OneByteReader(new BytesReader("xy")), 16);
  assert.equal(await br.readByte(), 0x78); // buffer now drained
  br.unreadByte();
  assert.equal(br.buffered(), 1);
  assert.equal(await br.readByte(), 0x78);
  assert.equal(await br.readByte(), 0x79);
  assert.equal(await br.readByte(), null);
  assert.throws(() => br.unreadByte(), /Cannot unread/);
});

Deno.test("BufReader peek: does not consume, fills as needed, errors past the buffer size", async () => {
  const br = new BufReader(new OneByteReader(new BytesReader("abcdefghijklmnopqrstuvwxyz")), 16);
  assert.equal(dec(await br.peek(1)), "a");
  assert.equal(dec(await br.peek(4)), "abcd");
  assert.equal(dec(await br.peek(16)), "abcdefghijklmnop");
  assert.deepEqual(await br.peek(0), new Uint8Array(0));
  const err = await br.peek(17).catch((e) => e);
  assert.ok(err instanceof BufferFullError);
  assert.equal(dec(err.partial), "abcdefghijklmnop");
  await assert.rejects(br.peek(-1), RangeError);
  await assert.rejects(br.peek(NaN), RangeError);
  await assert.rejects(br.peek(1.5), RangeError);
  assert.equal(await br.discard(20), 20);
  assert.equal(dec(await br.peek(10)), "uvwxyz"); // fewer at end of stream
  assert.equal(dec((await br.readExact(6))!), "uvwxyz");
  assert.deepEqual(await br.peek(1), new Uint8Array(0));
});

Deno.test("BufReader peek after readByte slides the buffer and keeps the bytes", async () => {
  const br = new BufReader(new BytesReader("0123456789abcdefXYZ"), 16);
  assert.equal(await br.readByte(), 0x30);
  assert.equal(dec(await br.peek(16)), "123456789abcdefX");
  assert.equal(dec((await br.readExact(18))!), "123456789abcdefXYZ");
});

Deno.test("BufReader discard skips across fills and stops at the end", async () => {
  for (const size of [16, 64, 4096]) {
    for (const [kind, make] of Object.entries(READER_KINDS)) {
      const br = new BufReader(make(pattern(1000)), size);
      assert.equal(await br.discard(0), 0);
      assert.equal(await br.discard(10), 10, kind);
      assert.equal(await br.readByte(), pattern(1000)[10]);
      assert.equal(await br.discard(900), 900);
      assert.equal(await br.discard(200), 89);
      assert.equal(await br.readByte(), null);
    }
  }
  await assert.rejects(new BufReader(new BytesReader("")).discard(-1), RangeError);
});

Deno.test("BufReader readFull and readExact: exact, partial at the end, large into p directly", async () => {
  const data = pattern(10_000);
  const source = new BytesReader(data);
  const br = new BufReader(source, 16);
  const big = new Uint8Array(9_000);
  assert.equal(await br.readFull(big), big);
  assert.deepEqual(big, data.subarray(0, 9_000));
  assert.ok(source.calls <= 2, "a large read into an empty buffer should go straight into p");
  const err = await br.readExact(2_000).catch((e) => e);
  assert.ok(err instanceof UnexpectedEofError);
  assert.equal(err.expected, 2_000);
  assert.deepEqual(err.partial, data.subarray(9_000));
  assert.equal(await br.readExact(1), null);
  await assert.rejects(br.readExact(-1), RangeError);
  await assert.rejects(br.readExact(NaN), RangeError);
  assert.deepEqual(await br.readExact(0), new Uint8Array(0));
});

Deno.test("BufReader read: at most one source read per call; a large read skips the buffer", async () => {
  const source = new BytesReader(pattern(100));
  const br = new BufReader(source, 16);
  const p = new Uint8Array(8);
  assert.equal(await br.read(p), 8);
  assert.equal(source.calls, 1);
  assert.equal(br.buffered(), 8);
  assert.equal(await br.read(new Uint8Array(100)), 8); // only what was buffered
  assert.equal(source.calls, 1);
  const big = new Uint8Array(50);
  assert.equal(await br.read(big), 50); // straight into big
  assert.equal(br.buffered(), 0);
  assert.deepEqual(big, pattern(100).subarray(16, 66));
});

Deno.test("BufReader hands out buffered bytes before the source's error, then reports it once", async () => {
  const boom = new Error("boom");
  for (const size of BUFFER_SIZES) {
    for (const [kind, make] of Object.entries(READER_KINDS)) {
      const data = pattern(50);
      const br = new BufReader(new ErrAfterReader(make(data), 37, boom), size);
      const got: number[] = [];
      let caught: unknown;
      try {
        for (;;) {
          const c = await br.readByte();
          assert.notEqual(c, null);
          got.push(c!);
        }
      } catch (err) {
        caught = err;
      }
      assert.equal(caught, boom, `${kind}, buffer ${size}`);
      assert.deepEqual(new Uint8Array(got), data.subarray(0, 37));
      await assert.rejects(br.readByte(), (e) => e === boom); // the source fails again
    }
  }
});

Deno.test("BufReader keeps an unfinished slice, line or full read buffered across a source error", async () => {
  const timeout = new Error("timeout");
  const script = () => new ScriptReader([enc("ab\ncd"), timeout, enc("ef\n")]);
  let br = new BufReader(script(), 16);
  assert.equal(dec((await br.readSlice(0x0a))!), "ab\n");
  await assert.rejects(br.readSlice(0x0a), (e) => e === timeout);
  assert.equal(br.buffered(), 2);
  assert.equal(dec((await br.readSlice(0x0a))!), "cdef\n"); // nothing was lost

  br = new BufReader(script(), 16);
  await br.readLine();
  await assert.rejects(br.readLine(), (e) => e === timeout);
  assert.equal(dec((await br.readLine())!.line), "cdef");

  br = new BufReader(script(), 16);
  assert.equal(await br.discard(3), 3);
  const p = new Uint8Array(4);
  await assert.rejects(br.readFull(p), (e) => e === timeout);
  assert.equal(br.buffered(), 2, "readFull of at most the buffer size is all or nothing");
  assert.equal(dec((await br.readFull(p))!), "cdef");

  br = new BufReader(script(), 16);
  await br.readLine();
  await assert.rejects(br.readString(0x0a), (e) => e === timeout);
  assert.equal(await br.readString(0x0a), "cdef\n");
});

Deno.test("BufReader gives the last bytes without a delimiter at the end of the stream", async () => {
  const br = new BufReader(new BytesReader("ab\ncd"), 16);
  assert.equal(dec((await br.readSlice(0x0a))!), "ab\n");
  assert.equal(dec((await br.readSlice(0x0a))!), "cd");
  assert.equal(await br.readSlice(0x0a), null);
});

Deno.test("BufReader peek throws the source's error but keeps the buffered bytes", async () => {
  const boom = new Error("boom");
  const br = new BufReader(new ErrAfterReader(new BytesReader("abc"), 3, boom), 16);
  await assert.rejects(br.peek(5), (e) => e === boom);
  assert.equal(dec((await br.readExact(3))!), "abc");
});

Deno.test("BufReader fails with NoProgressError after 100 empty reads, on every path", async () => {
  const stuck = () => {
    const r = new ScriptReader(Array(1000).fill(0));
    return { r, br: new BufReader(r, 16) };
  };
  for (
    const op of [
      (br: BufReader) => br.readByte(),
      (br: BufReader) => br.read(new Uint8Array(4)),
      (br: BufReader) => br.read(new Uint8Array(64)), // straight into p
      (br: BufReader) => br.peek(2),
      (br: BufReader) => br.readLine(),
      (br: BufReader) => br.readFull(new Uint8Array(3)),
      (br: BufReader) => br.discard(3),
    ]
  ) {
    const { r, br } = stuck();
    await assert.rejects(op(br), NoProgressError);
    assert.equal(r.calls, 100);
  }
  // 99 empty reads and then data is fine.
  const br = new BufReader(new ScriptReader([...Array(99).fill(0), enc("x")]));
  assert.equal(await br.readByte(), 0x78);
});

Deno.test("BufReader rejects impossible counts from the source", async () => {
  for (const bad of [-1, 17, 1.5, NaN, "3" as unknown as number]) {
    const br = new BufReader(new ScriptReader([bad]), 16);
    await assert.rejects(br.readByte(), RangeError);
  }
  const direct = new BufReader(new ScriptReader([65]), 16);
  await assert.rejects(direct.read(new Uint8Array(64)), RangeError);
});

Deno.test("BufReader sizes: default 4096, 0 to 15 round up to 16, bad sizes throw", () => {
  const rd = new BytesReader("");
  assert.equal(new BufReader(rd).size, 4096);
  assert.equal(new BufReader(rd, 0).size, 16);
  assert.equal(new BufReader(rd, 15).size, 16);
  assert.equal(new BufReader(rd, 17).size, 17);
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 31]) {
    assert.throws(() => new BufReader(rd, bad), RangeError, String(bad));
  }
  assert.throws(() => new BufReader({} as Reader), TypeError);
  assert.throws(() => new BufReader(null as unknown as Reader), TypeError);
});

Deno.test("BufReader readString collects across buffer fills and stops at maxLength", async () => {
  const br = new BufReader(
    new OneByteReader(new BytesReader("a".repeat(100) + "\nb".repeat(3))),
    16,
  );
  assert.equal(await br.readString(0x0a), "a".repeat(100) + "\n");
  assert.equal(await br.readString(0x0a, { maxLength: 2 }), "b\n");
  const err = await br.readString(0x0a, { maxLength: 1 }).catch((e) => e);
  assert.ok(err instanceof BufferFullError);
  assert.equal(dec(err.partial), "b\n");
  await assert.rejects(br.readString(0x0a, { maxLength: -1 }), RangeError);
});

Deno.test("BufReader readString on an endless line holds bounded memory", async () => {
  const endless = new EndlessReader();
  const br = new BufReader(endless, 1024);
  const err = await br.readString(0x0a, { maxLength: 100_000 }).catch((e) => e);
  assert.ok(err instanceof BufferFullError);
  assert.ok(err.partial.length <= 100_000 + 1024);
  assert.ok(endless.served <= 100_000 + 2 * 1024, `read ${endless.served} bytes`);
});

Deno.test("BufReader over a byte stream reads through BYOB without detaching its buffer", async () => {
  const chunks = [enc("hello "), enc("world\nsecond"), enc(" line\n")];
  for (const size of [16, 4096]) {
    const br = new BufReader(byteStream(chunks), size);
    assert.equal(dec((await br.readLine())!.line), "hello world");
    assert.equal(await br.readString(0x0a), "second line\n");
    assert.equal(await br.readByte(), null);
  }
});

Deno.test("BufReader over a default stream splits chunks larger than the request", async () => {
  const stream = ReadableStream.from([pattern(5000), new Uint8Array(0), pattern(10, 7)]);
  const br = new BufReader(stream, 16);
  const all = await br.readExact(5010);
  assert.deepEqual(all!.subarray(0, 5000), pattern(5000));
  assert.deepEqual(all!.subarray(5000), pattern(10, 7));
  assert.equal(await br.readByte(), null);
});

Deno.test("BufReader over a stream of non-bytes throws a TypeError", async () => {
  const stream = ReadableStream.from(["text"]) as unknown as ReadableStream<Uint8Array>;
  await assert.rejects(new BufReader(stream).readByte(), TypeError);
});

Deno.test("BufReader reset drops the buffer and the end, and unlocks a stream", async () => {
  const stream = ReadableStream.from([enc("abc")]);
  const br = new BufReader(stream);
  assert.equal(await br.readByte(), 0x61);
  assert.equal(stream.locked, true);
  br.reset(new BytesReader("xyz"));
  assert.equal(stream.locked, false);
  assert.equal(br.buffered(), 0);
  assert.equal(dec((await br.readExact(3))!), "xyz");
  assert.equal(await br.readByte(), null);
  br.reset(br); // no-op, as Go
  assert.throws(
    () =>
      new BufReader(ReadableStream.from([enc("locked")]).pipeThrough(new TransformStream())).reset(
        {} as Reader,
      ),
    TypeError,
  );
  await stream.cancel();
});

Deno.test("BufReader serves concurrent calls in call order", async () => {
  const br = new BufReader(new OneByteReader(new BytesReader("abcdef\nghi\n")), 16);
  const results = await Promise.all([
    br.readByte(),
    br.readExact(2).then((v) => dec(v!)),
    br.readString(0x0a),
    br.readString(0x0a),
    br.readByte(),
  ]);
  // Views (peek, readSlice, readLine) are only valid until the next read
  // starts, which for queued calls is at once: queued calls use owned results.
  assert.deepEqual(results, [0x61, "bc", "def\n", "ghi\n", null]);
  // reset and unreadByte refuse to run while a read waits.
  const slow = new BufReader(new OneByteReader(new BytesReader("xy")), 16);
  const pending = slow.readExact(2);
  assert.throws(() => slow.reset(new BytesReader("")), /pending/);
  assert.throws(() => slow.unreadByte(), /pending/);
  assert.equal(dec((await pending)!), "xy");
});

Deno.test("BufReader with a one-byte trickler stays linear and bounded", async () => {
  let calls = 0;
  const data = enc("a".repeat(10_000) + "\n");
  const inner = new BytesReader(data);
  const trickle: Reader = {
    read(p) {
      calls++;
      return inner.read(p.subarray(0, 1));
    },
  };
  const br = new BufReader(trickle, 64);
  let pieces = 0;
  for (let r; (r = await br.readLine()) !== null && r.more;) pieces++;
  assert.equal(pieces, Math.floor(10_000 / 64));
  assert.equal(calls, data.length);
});

Deno.test("BufReader works over a HalfReader for every size (readLine sanity)", async () => {
  const text = "one\ntwo\r\nthree";
  for (const size of BUFFER_SIZES) {
    const br = new BufReader(new HalfReader(new BytesReader(text)), size);
    const got: string[] = [];
    for (let r; (r = await br.readLine()) !== null;) got.push(dec(r.line));
    assert.deepEqual(got, ["one", "two", "three"]);
  }
});

Deno.test("BufReader tryPeek shows buffered bytes without consuming or waiting", async () => {
  const br = new BufReader(new BytesReader("abcdef"), 16);
  assert.equal(br.tryPeek(1), null, "nothing buffered before the first read");
  assert.deepEqual(br.tryPeek(0), new Uint8Array(0));
  assert.equal(await br.readByte(), 0x61);
  assert.equal(br.buffered(), 5);
  assert.equal(dec(br.tryPeek(3)!), "bcd");
  assert.equal(dec(br.tryPeek(br.buffered())!), "bcdef");
  assert.equal(br.tryPeek(6), null, "more than is buffered");
  assert.equal(br.buffered(), 5, "tryPeek consumed nothing");
  // As after peek, there is no byte to put back.
  assert.throws(() => br.unreadByte());
  assert.equal(dec((await br.readExact(5))!), "bcdef");
});

Deno.test("BufReader tryDiscard skips buffered bytes only", async () => {
  const br = new BufReader(new BytesReader("abcdef"), 16);
  assert.equal(br.tryDiscard(0), true);
  assert.equal(br.tryDiscard(1), false, "nothing buffered yet");
  await br.peek(6);
  assert.equal(br.tryDiscard(7), false);
  assert.equal(br.buffered(), 6);
  assert.equal(br.tryDiscard(2), true);
  assert.equal(br.buffered(), 4);
  assert.equal(dec(br.tryPeek(4)!), "cdef");
  assert.equal(br.tryDiscard(4), true);
  assert.equal(await br.readByte(), null);
});

Deno.test("BufReader tryPeek and tryDiscard return null and false while a read is pending", async () => {
  let release!: () => void;
  const chunks = [enc("ab"), enc("cd")];
  const gated: Reader = {
    async read(p) {
      const chunk = chunks.shift();
      if (chunk === undefined) return null;
      if (chunks.length === 0) await new Promise<void>((resolve) => release = resolve);
      p.set(chunk);
      return chunk.length;
    },
  };
  const br = new BufReader(gated, 16);
  assert.equal(await br.readByte(), 0x61);
  const pending = br.peek(3); // "b" is buffered, the read for "cd" waits
  assert.equal(br.buffered(), 1);
  assert.equal(br.tryPeek(1), null);
  assert.equal(br.tryDiscard(1), false);
  release();
  assert.equal(dec(await pending), "bcd");
  assert.equal(dec(br.tryPeek(3)!), "bcd");
});

Deno.test("FrameReader and LineReader on a BufReader with a pending read wait their turn", async () => {
  let release!: () => void;
  const wire = [new Uint8Array([0x78, 0, 0, 0, 2, 0x68, 0x69]), enc("yline\n")];
  const gated: Reader = {
    async read(p) {
      const chunk = wire.shift();
      if (chunk === undefined) return null;
      await new Promise<void>((resolve) => release = resolve);
      p.set(chunk);
      return chunk.length;
    },
  };
  const br = new BufReader(gated, 64);
  const frames = new FrameReader(br);
  const lines = new LineReader(br);
  let pending = br.readByte(); // waits for the source
  const frame = frames.readFrame(); // after it, not on the fast path
  release();
  assert.equal(await pending, 0x78);
  assert.equal(dec((await frame)!), "hi");
  pending = br.readByte();
  const line = lines.readLine();
  release();
  assert.equal(await pending, 0x79);
  assert.equal(await line, "line");
});
