// What a JavaScript caller may pass where nothing type-checks the call: every
// public bufio function and method checks its arguments before anything
// starts, a promise-returning one rejects (never throws), and nothing is
// read, consumed, buffered or sent because of a bad argument.

import assert from "node:assert/strict";
import {
  BufReader,
  BufWriter,
  FrameReader,
  FrameWriter,
  LineReader,
  LineWriter,
  type Reader,
  type Writer,
} from "../../bufio/mod.ts";
import { BytesReader, RecordingWriter } from "../_iotest.ts";
import { dec, enc } from "../../_kit/bytes.ts";
import { NOT_BYTES } from "../_helpers.ts";

type ErrorType = TypeErrorConstructor | RangeErrorConstructor;

// Values that are not counts (non-negative safe integers).
const NOT_COUNTS: [string, unknown, ErrorType][] = [
  ["a string", "3", TypeError],
  ["null", null, TypeError],
  ["undefined", undefined, TypeError],
  ["an object", {}, TypeError],
  ["an array", [1], TypeError],
  ["an AbortController", new AbortController(), TypeError],
  ["a bigint", 3n, TypeError],
  ["NaN", NaN, RangeError],
  ["-1", -1, RangeError],
  ["1.5", 1.5, RangeError],
  ["2 ** 53", 2 ** 53, RangeError],
  ["Infinity", Infinity, RangeError],
];

// Values that are not delimiters (a one-character ASCII string or a byte).
const NOT_DELIMITERS: [string, unknown, ErrorType][] = [
  ["an empty string", "", RangeError],
  ["two characters", "\r\n", RangeError],
  ["a non-ASCII character", "é", RangeError],
  ["-1", -1, RangeError],
  ["256", 256, RangeError],
  ["1.5", 1.5, RangeError],
  ["NaN", NaN, RangeError],
  ["null", null, TypeError],
  ["undefined", undefined, TypeError],
  ["an object", {}, TypeError],
  ["an array", [10], TypeError],
  ["a Uint8Array", new Uint8Array([10]), TypeError],
  ["an AbortController", new AbortController(), TypeError],
];

// Values that are not option objects.
const NOT_OPTIONS: [string, unknown][] = [
  ["null", null],
  ["a string", "big"],
  ["a number", 5],
  ["an array", []],
];

const TEXT = "hello\nworld\n";

// Calls `call`, which must return a promise that rejects with `type`: a
// synchronous throw fails the test.
async function mustReject(call: () => unknown, type: ErrorType, what: string): Promise<Error> {
  let result: unknown;
  try {
    result = call();
  } catch (err) {
    assert.fail(`${what} threw synchronously instead of rejecting: ${err}`);
  }
  assert.ok(result instanceof Promise, `${what} returned no promise`);
  const err = await result.then(
    () => assert.fail(`${what} resolved`),
    (e: unknown) => e,
  );
  assertError(err, type, what);
  return err as Error;
}

function assertError(err: unknown, type: ErrorType, what: string): void {
  assert.ok(err instanceof type, `${what}: expected ${type.name}, got ${err}`);
  // Values are quoted with control characters escaped.
  const raw = [...err.message].some((ch) => ch.charCodeAt(0) < 0x20);
  assert.ok(!raw, `${what}: raw control character in message ${JSON.stringify(err.message)}`);
  assert.match(err.message, /: received /, `${what}: message names the value`);
}

// A BufReader over TEXT in two states: nothing buffered yet, or all of it.
async function readers(): Promise<[string, BufReader][]> {
  const buffered = new BufReader(new BytesReader(TEXT), 16);
  await buffered.peek(1);
  assert.equal(buffered.buffered(), TEXT.length);
  return [["empty", new BufReader(new BytesReader(TEXT), 16)], ["buffered", buffered]];
}

// The stream is intact: nothing was consumed.
async function assertIntact(br: BufReader, what: string): Promise<void> {
  assert.equal(await br.readString("\n"), "hello\n", what);
  assert.equal(dec((await br.readExact(6))!), "world\n", what);
  assert.equal(await br.readByte(), null, what);
}

type ReaderCall = [string, (br: BufReader, x: unknown) => unknown];

// Calls each method with each bad value on a reader in each state: it must
// reject with the value's error type, and the stream stays intact.
async function rejectsIntact(
  methods: ReaderCall[],
  values: [string, unknown, ErrorType][],
  message?: RegExp,
): Promise<void> {
  for (const [method, call] of methods) {
    for (const [name, value, type] of values) {
      for (const [state, br] of await readers()) {
        const what = `${method}(${name}), ${state}`;
        const err = await mustReject(() => call(br, value), type, what);
        if (message !== undefined) assert.match(err.message, message, what);
        await assertIntact(br, what);
      }
    }
  }
}

Deno.test("BufReader methods taking bytes reject anything else, consuming nothing", async () => {
  await rejectsIntact(
    [
      ["read", (br, p) => br.read(p as Uint8Array)],
      ["readFull", (br, p) => br.readFull(p as Uint8Array)],
    ],
    NOT_BYTES.map(([name, value]) => [name, value, TypeError]),
    /^BufReader\.\w+ takes a Uint8Array: received /,
  );
});

Deno.test("BufReader methods taking counts reject anything else, consuming nothing", async () => {
  await rejectsIntact([
    ["peek", (br, n) => br.peek(n as number)],
    ["readExact", (br, n) => br.readExact(n as number)],
    ["discard", (br, n) => br.discard(n as number)],
  ], NOT_COUNTS);
});

Deno.test("BufReader tryPeek and tryDiscard throw for anything but a count, consuming nothing", async () => {
  for (const [name, value, type] of NOT_COUNTS) {
    for (const [state, br] of await readers()) {
      const what = `${name}, ${state}`;
      assert.throws(() => br.tryPeek(value as number), type, what);
      assert.throws(() => br.tryDiscard(value as number), type, what);
      await assertIntact(br, what);
    }
  }
});

Deno.test("BufReader readSlice and readString take a one-character string or a byte", async () => {
  await rejectsIntact([
    ["readSlice", (br, d) => br.readSlice(d as string)],
    ["readString", (br, d) => br.readString(d as string)],
  ], NOT_DELIMITERS);
  // The message quotes a string with its control characters escaped.
  const br = new BufReader(new BytesReader(TEXT));
  const err = await mustReject(() => br.readString("\r\n"), RangeError, "readString(CRLF)");
  assert.ok(err.message.includes('received a string "\\r\\n"'), err.message);
  // A string and its byte are the same delimiter, on both paths.
  for (const [state, br] of await readers()) {
    assert.equal(await br.readString("\n"), "hello\n", state);
    assert.equal(dec((await br.readSlice(0x0a))!), "world\n", state);
  }
});

Deno.test("BufReader readString checks its options before reading", async () => {
  const bad: [string, unknown, ErrorType][] = [
    ...NOT_OPTIONS.map(([name, value]): [string, unknown, ErrorType] => [name, value, TypeError]),
    ["maxLength: a string", { maxLength: "5" }, TypeError],
    ["maxLength: null", { maxLength: null }, TypeError],
    ["maxLength: -1", { maxLength: -1 }, RangeError],
    ["maxLength: 1.5", { maxLength: 1.5 }, RangeError],
    ["maxLength: NaN", { maxLength: NaN }, RangeError],
    ["maxLength: over 1 GiB", { maxLength: 2 ** 30 + 1 }, RangeError],
  ];
  await rejectsIntact([
    ["readString with options", (br, o) => br.readString("\n", o as { maxLength: number })],
  ], bad);
});

Deno.test("BufReader constructor and reset check the source and the size", async () => {
  const source = new BytesReader(TEXT);
  const notNumbers = NOT_BYTES.filter(([, v]) => v !== undefined && typeof v !== "number");
  for (const [name, value] of notNumbers) {
    assert.throws(() => new BufReader(source, value as number), TypeError, `size ${name}`);
  }
  for (const [name, value, type] of NOT_COUNTS.filter(([, v]) => typeof v === "number")) {
    assert.throws(() => new BufReader(source, value as number), type, `size ${name}`);
  }
  assert.throws(() => new BufReader(source, 2 ** 30 + 1), RangeError);
  for (const [name, value] of [...NOT_BYTES, ["a Writer", new RecordingWriter()]]) {
    assert.throws(() => new BufReader(value as Reader), TypeError, `source ${name}`);
    const br = new BufReader(new BytesReader(TEXT), 16);
    assert.throws(() => br.reset(value as Reader), TypeError, `reset(${name})`);
    await assertIntact(br, `reset(${name})`);
  }
  let err: unknown;
  try {
    new BufReader(new AbortController() as unknown as Reader);
  } catch (e) {
    err = e;
  }
  assertError(err, TypeError, "new BufReader(AbortController)");
  assert.match((err as Error).message, /^BufReader takes a Reader or a ReadableStream/);
});

Deno.test("BufReader: a bad argument rejects at once, even behind a pending read", async () => {
  let release!: (n: number | null) => void;
  const slow: Reader = {
    read: () => new Promise((resolve) => release = resolve),
  };
  const br = new BufReader(slow);
  const pending = br.readByte();
  // The bad call is not queued behind the pending read: it rejects first.
  const order: string[] = [];
  const bad = br.peek(-1).catch((e) => order.push(`bad ${e.name}`));
  await bad;
  assert.deepEqual(order, ["bad RangeError"]);
  release(null);
  assert.equal(await pending, null);
});

// A BufWriter over a recording writer, with "ab" buffered.
function bufWriter(): [BufWriter, RecordingWriter] {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  assert.equal(bw.tryWrite(enc("ab")), true);
  return [bw, sink];
}

// Nothing was buffered or sent, and no error is sticky: a good write and a
// flush deliver exactly "ab" and what follows.
async function assertClean(bw: BufWriter, sink: RecordingWriter, what: string): Promise<void> {
  assert.equal(bw.buffered(), 2, what);
  assert.equal(sink.writes.length, 0, what);
  assert.equal(await bw.write(enc("cd")), 2, what);
  await bw.flush();
  assert.equal(sink.text(), "abcd", what);
}

Deno.test("BufWriter methods reject what they do not take, buffering and sending nothing", async () => {
  const methods: [
    string,
    (bw: BufWriter, x: unknown) => unknown,
    [string, unknown, ErrorType][],
  ][] = [
    ["write", (bw, p) => bw.write(p as Uint8Array), NOT_BYTES.map(([n, v]) => [n, v, TypeError])],
    [
      "writeString",
      (bw, s) => bw.writeString(s as string),
      NOT_BYTES.filter(([n]) => n !== "a string").map(([n, v]) => [n, v, TypeError]),
    ],
    ["writeByte", (bw, c) => bw.writeByte(c as number), [
      ...NOT_COUNTS.filter(([n]) => n !== "2 ** 53"),
      ["256", 256, RangeError],
      ["a one-character string", "a", TypeError],
      ["a Uint8Array", new Uint8Array([1]), TypeError],
    ]],
    [
      "readFrom",
      (bw, rd) => bw.readFrom(rd as Reader),
      NOT_BYTES.map(([n, v]) => [n, v, TypeError]),
    ],
  ];
  for (const [method, call, values] of methods) {
    for (const [name, value, type] of values) {
      const what = `${method}(${name})`;
      const [bw, sink] = bufWriter();
      await mustReject(() => call(bw, value), type, what);
      await assertClean(bw, sink, what);
      // The same on the slow path: behind a full buffer.
      const [full, fullSink] = bufWriter();
      assert.equal(full.tryWrite(new Uint8Array(14)), true);
      await mustReject(() => call(full, value), type, `${what}, buffer full`);
      assert.equal(full.buffered(), 16, what);
      await full.flush();
      assert.equal(fullSink.bytes().length, 16, what);
    }
  }
});

Deno.test("BufWriter tryWrite throws for anything but bytes, buffering nothing", async () => {
  for (const [name, value] of NOT_BYTES) {
    const [bw, sink] = bufWriter();
    assert.throws(() => bw.tryWrite(value as Uint8Array), TypeError, name);
    await assertClean(bw, sink, `tryWrite(${name})`);
  }
});

Deno.test("BufWriter constructor and reset check the destination and the size", async () => {
  const sink = new RecordingWriter();
  for (const [name, value, type] of NOT_COUNTS.filter(([n]) => n !== "undefined")) {
    assert.throws(() => new BufWriter(sink, value as number), type, `size ${name}`);
  }
  for (const [name, value] of [...NOT_BYTES, ["a Reader", new BytesReader("x")]]) {
    assert.throws(() => new BufWriter(value as Writer), TypeError, `destination ${name}`);
    const [bw, recorder] = bufWriter();
    assert.throws(() => bw.reset(value as Writer), TypeError, `reset(${name})`);
    await assertClean(bw, recorder, `reset(${name})`);
  }
});

Deno.test("BufWriter: the NaN count and vanishing bytes of write({}) are gone", async () => {
  const sink = new RecordingWriter();
  const bw = new BufWriter(sink, 16);
  await assert.rejects(bw.write({} as Uint8Array), TypeError);
  await assert.rejects(bw.write(null as unknown as Uint8Array), TypeError);
  await bw.write(enc("later bytes"));
  await bw.flush();
  assert.equal(sink.text(), "later bytes");
});

Deno.test("FrameWriter and LineWriter reject what they do not send, and stay usable", async () => {
  for (const [name, value] of NOT_BYTES) {
    const sink = new RecordingWriter();
    const frames = new FrameWriter(sink);
    const err = await mustReject(() => frames.writeFrame(value as Uint8Array), TypeError, name);
    assert.match(err.message, /^FrameWriter\.writeFrame takes a Uint8Array/);
    await frames.writeFrame(enc("ok"));
    assert.deepEqual(sink.writes, [new Uint8Array([0, 0, 0, 2, 0x6f, 0x6b])], name);
  }
  for (const [name, value] of NOT_BYTES.filter(([n]) => n !== "a string")) {
    const sink = new RecordingWriter();
    const lines = new LineWriter(sink);
    const err = await mustReject(() => lines.writeLine(value as string), TypeError, name);
    assert.match(err.message, /^LineWriter\.writeLine takes a string or a Uint8Array/);
    await lines.writeLine("ok");
    await lines.writeLine(enc("bytes"));
    assert.equal(sink.text(), "ok\nbytes\n", name);
  }
});

Deno.test("Frame and line readers and writers check their sources, destinations and options", () => {
  const rd = new BytesReader("");
  const wr = new RecordingWriter();
  const makers: [string, (x: unknown, o?: unknown) => unknown, string, unknown][] = [
    ["FrameReader", (x, o) => new FrameReader(x as Reader, o as object), "maxFrameSize", rd],
    ["LineReader", (x, o) => new LineReader(x as Reader, o as object), "maxLineLength", rd],
    ["FrameWriter", (x, o) => new FrameWriter(x as Writer, o as object), "maxFrameSize", wr],
    ["LineWriter", (x, o) => new LineWriter(x as Writer, o as object), "maxLineLength", wr],
  ];
  for (const [type, make, limit, good] of makers) {
    for (const [name, value] of NOT_BYTES) {
      assert.throws(() => make(value), TypeError, `${type}(${name})`);
    }
    for (const [name, options] of NOT_OPTIONS) {
      assert.throws(() => make(good, options), TypeError, `${type} options ${name}`);
    }
    for (const [name, value, errorType] of NOT_COUNTS.filter(([n]) => n !== "undefined")) {
      const what = `${type} ${limit}: ${name}`;
      assert.throws(() => make(good, { [limit]: value }), errorType, what);
    }
    assert.throws(() => make(good, { [limit]: 2 ** 32 }), RangeError, `${type} ${limit} too big`);
    if (type.endsWith("Reader")) {
      for (const [name, value, errorType] of NOT_COUNTS.filter(([n]) => n !== "undefined")) {
        const what = `${type} bufferSize: ${name}`;
        assert.throws(() => make(good, { bufferSize: value }), errorType, what);
      }
    }
  }
});
