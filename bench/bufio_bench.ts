// Buffered I/O against hand-rolled raw code, in memory (no sockets), each
// group with its raw baseline in the same run. Every benchmark checks its own
// result. Messages per second = MESSAGES / (time per iteration).
//
//   deno bench bench/bufio_bench.ts

import { BufReader, BufWriter, FrameReader, FrameWriter, LineReader } from "../bufio.ts";
import type { Reader, Writer } from "../io.ts";

const MESSAGES = 100_000;
const SIZE = 64; // bytes per message, line (with "\n") or frame (with header)
const BUFFER = 64 * 1024;

const message = new Uint8Array(SIZE).map((_, i) => 32 + i);

/** Counts what it is given and checks each chunk holds whole messages. */
class CountingSink implements Writer {
  bytes = 0;
  #first: number;
  constructor(first = message[0]!) {
    this.#first = first;
  }
  write(p: Uint8Array): Promise<number> {
    if (p.length % SIZE !== 0 || p[0] !== this.#first || p[p.length - 1] !== message[SIZE - 1]) {
      throw new Error("Sink got a damaged chunk");
    }
    this.bytes += p.length;
    return Promise.resolve(p.length);
  }
  check(): void {
    if (this.bytes !== MESSAGES * SIZE) throw new Error(`Sink got ${this.bytes} bytes`);
  }
}

/** Serves `data` from memory, as much as asked for. */
class MemoryReader implements Reader {
  #data: Uint8Array;
  #off = 0;
  constructor(data: Uint8Array) {
    this.#data = data;
  }
  read(p: Uint8Array): Promise<number | null> {
    const left = this.#data.length - this.#off;
    if (left === 0) return Promise.resolve(null);
    const n = Math.min(p.length, left);
    p.set(this.#data.subarray(this.#off, this.#off + n));
    this.#off += n;
    return Promise.resolve(n);
  }
}

function repeat(unit: Uint8Array, times: number): Uint8Array {
  const out = new Uint8Array(unit.length * times);
  for (let i = 0; i < times; i++) out.set(unit, i * unit.length);
  return out;
}

// 64-byte lines: 63 bytes and "\n".
const line = message.slice();
line[SIZE - 1] = 0x0a;
const lines = repeat(line, MESSAGES);
// 64-byte frames: a 4-byte header and 60 bytes of payload.
const frame = message.slice();
frame.set([0, 0, 0, SIZE - 4]);
const frames = repeat(frame, MESSAGES);

// ---- writing 64-byte messages ----

Deno.bench({
  name: "raw: hand-rolled 64 KiB buffer",
  group: "write 64-byte messages",
  baseline: true,
  async fn() {
    const sink = new CountingSink();
    const buf = new Uint8Array(BUFFER);
    let n = 0;
    for (let i = 0; i < MESSAGES; i++) {
      if (n + SIZE > buf.length) {
        await sink.write(buf.subarray(0, n));
        n = 0;
      }
      buf.set(message, n);
      n += SIZE;
    }
    if (n > 0) await sink.write(buf.subarray(0, n));
    sink.check();
  },
});

Deno.bench({
  name: "BufWriter 64 KiB: tryWrite, else await write",
  group: "write 64-byte messages",
  async fn() {
    const sink = new CountingSink();
    const bw = new BufWriter(sink, BUFFER);
    for (let i = 0; i < MESSAGES; i++) {
      if (!bw.tryWrite(message)) await bw.write(message);
    }
    await bw.flush();
    sink.check();
  },
});

Deno.bench({
  name: "BufWriter 64 KiB: await write",
  group: "write 64-byte messages",
  async fn() {
    const sink = new CountingSink();
    const bw = new BufWriter(sink, BUFFER);
    for (let i = 0; i < MESSAGES; i++) await bw.write(message);
    await bw.flush();
    sink.check();
  },
});

Deno.bench({
  name: "BufWriter 4 KiB (default): tryWrite, else await write",
  group: "write 64-byte messages",
  async fn() {
    const sink = new CountingSink();
    const bw = new BufWriter(sink);
    for (let i = 0; i < MESSAGES; i++) {
      if (!bw.tryWrite(message)) await bw.write(message);
    }
    await bw.flush();
    sink.check();
  },
});

Deno.bench({
  name: "FrameWriter over BufWriter 64 KiB: await writeFrame",
  group: "write 64-byte messages",
  async fn() {
    const sink = new CountingSink(0); // chunks start with a frame header
    const bw = new BufWriter(sink, BUFFER);
    const out = new FrameWriter(bw);
    const payload = message.subarray(4); // 60 bytes + 4-byte header = 64
    for (let i = 0; i < MESSAGES; i++) await out.writeFrame(payload);
    await bw.flush();
    sink.check();
  },
});

// ---- reading 64-byte lines ----

Deno.bench({
  name: "raw: hand-rolled 64 KiB line splitter",
  group: "read 64-byte lines",
  baseline: true,
  async fn() {
    const rd = new MemoryReader(lines);
    const buf = new Uint8Array(BUFFER);
    let r = 0;
    let w = 0;
    let count = 0;
    for (;;) {
      for (let i; (i = buf.indexOf(0x0a, r)) >= 0 && i < w;) {
        const got = buf.subarray(r, i);
        if (got.length !== SIZE - 1) throw new Error("Bad line");
        count++;
        r = i + 1;
      }
      buf.copyWithin(0, r, w);
      w -= r;
      r = 0;
      const n = await rd.read(buf.subarray(w));
      if (n === null) break;
      w += n;
    }
    if (count !== MESSAGES) throw new Error(`Read ${count} lines`);
  },
});

Deno.bench({
  name: "BufReader 64 KiB: await readLine",
  group: "read 64-byte lines",
  async fn() {
    const br = new BufReader(new MemoryReader(lines), BUFFER);
    let count = 0;
    for (let got; (got = await br.readLine()) !== null;) {
      if (got.line.length !== SIZE - 1 || got.more) throw new Error("Bad line");
      count++;
    }
    if (count !== MESSAGES) throw new Error(`Read ${count} lines`);
  },
});

Deno.bench({
  name: "LineReader 64 KiB: for await (decodes strings)",
  group: "read 64-byte lines",
  async fn() {
    let count = 0;
    for await (const got of new LineReader(new MemoryReader(lines), { bufferSize: BUFFER })) {
      if (got.length !== SIZE - 1) throw new Error("Bad line");
      count++;
    }
    if (count !== MESSAGES) throw new Error(`Read ${count} lines`);
  },
});

Deno.bench({
  name: "LineReader 64 KiB: await readLine (decodes strings)",
  group: "read 64-byte lines",
  async fn() {
    const lr = new LineReader(new MemoryReader(lines), { bufferSize: BUFFER });
    let count = 0;
    for (let got; (got = await lr.readLine()) !== null;) {
      if (got.length !== SIZE - 1) throw new Error("Bad line");
      count++;
    }
    if (count !== MESSAGES) throw new Error(`Read ${count} lines`);
  },
});

// ---- reading length-prefixed frames ----

Deno.bench({
  name: "raw: hand-rolled 64 KiB frame parser",
  group: "read 64-byte frames",
  baseline: true,
  async fn() {
    const rd = new MemoryReader(frames);
    const buf = new Uint8Array(BUFFER);
    let r = 0;
    let w = 0;
    let count = 0;
    for (;;) {
      while (w - r >= 4) {
        const size = ((buf[r]! << 24) | (buf[r + 1]! << 16) | (buf[r + 2]! << 8) | buf[r + 3]!) >>>
          0;
        if (w - r < 4 + size) break;
        const payload = buf.subarray(r + 4, r + 4 + size);
        if (payload.length !== SIZE - 4) throw new Error("Bad frame");
        count++;
        r += 4 + size;
      }
      buf.copyWithin(0, r, w);
      w -= r;
      r = 0;
      const n = await rd.read(buf.subarray(w));
      if (n === null) break;
      w += n;
    }
    if (count !== MESSAGES) throw new Error(`Read ${count} frames`);
  },
});

Deno.bench({
  name: "FrameReader 64 KiB: await readFrame",
  group: "read 64-byte frames",
  async fn() {
    const fr = new FrameReader(new MemoryReader(frames), { bufferSize: BUFFER });
    let count = 0;
    for (let got; (got = await fr.readFrame()) !== null;) {
      if (got.length !== SIZE - 4) throw new Error("Bad frame");
      count++;
    }
    if (count !== MESSAGES) throw new Error(`Read ${count} frames`);
  },
});

Deno.bench({
  name: "FrameReader 64 KiB: for await",
  group: "read 64-byte frames",
  async fn() {
    let count = 0;
    for await (const got of new FrameReader(new MemoryReader(frames), { bufferSize: BUFFER })) {
      if (got.length !== SIZE - 4) throw new Error("Bad frame");
      count++;
    }
    if (count !== MESSAGES) throw new Error(`Read ${count} frames`);
  },
});
