// The workloads of bench/bufio_bench.ts and bench/bufio_ratio.ts: buffered I/O
// against hand-rolled raw code, in memory (no sockets). Each case handles
// MESSAGES messages of SIZE bytes and throws if its result is wrong.

import {
  BufReader,
  BufWriter,
  FrameReader,
  FrameWriter,
  LineReader,
  type Reader,
  type Writer,
} from "../bufio/mod.ts";

/** Messages per run of a case. */
export const MESSAGES = 100_000;
/** Bytes per message, line (with "\n") or frame (with its 4-byte header). */
export const SIZE = 64;
const BUFFER = 64 * 1024;

/** One workload: `baseline` is the raw code the others in its group are held to. */
export interface Case {
  group: string;
  name: string;
  baseline?: boolean;
  run(): Promise<void>;
}

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

function expectCount(count: number, what: string): void {
  if (count !== MESSAGES) throw new Error(`Read ${count} ${what}`);
}

// 64-byte lines: 63 bytes and "\n".
const line = message.slice();
line[SIZE - 1] = 0x0a;
const lines = repeat(line, MESSAGES);
// 64-byte frames: a 4-byte header and 60 bytes of payload.
const frame = message.slice();
frame.set([0, 0, 0, SIZE - 4]);
const frames = repeat(frame, MESSAGES);

const WRITE = "write 64-byte messages";
const LINES = "read 64-byte lines";
const FRAMES = "read 64-byte frames";

/** Every case, grouped, each group's baseline first. */
export const CASES: Case[] = [
  {
    group: WRITE,
    name: "raw: hand-rolled 64 KiB buffer",
    baseline: true,
    async run() {
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
  },
  {
    group: WRITE,
    name: "BufWriter 64 KiB: tryWrite, else await write",
    async run() {
      const sink = new CountingSink();
      const bw = new BufWriter(sink, BUFFER);
      for (let i = 0; i < MESSAGES; i++) {
        if (!bw.tryWrite(message)) await bw.write(message);
      }
      await bw.flush();
      sink.check();
    },
  },
  {
    group: WRITE,
    name: "BufWriter 64 KiB: await write",
    async run() {
      const sink = new CountingSink();
      const bw = new BufWriter(sink, BUFFER);
      for (let i = 0; i < MESSAGES; i++) await bw.write(message);
      await bw.flush();
      sink.check();
    },
  },
  {
    group: WRITE,
    name: "BufWriter 4 KiB (default): tryWrite, else await write",
    async run() {
      const sink = new CountingSink();
      const bw = new BufWriter(sink);
      for (let i = 0; i < MESSAGES; i++) {
        if (!bw.tryWrite(message)) await bw.write(message);
      }
      await bw.flush();
      sink.check();
    },
  },
  {
    group: WRITE,
    name: "FrameWriter over BufWriter 64 KiB: await writeFrame",
    async run() {
      const sink = new CountingSink(0); // chunks start with a frame header
      const bw = new BufWriter(sink, BUFFER);
      const out = new FrameWriter(bw);
      const payload = message.subarray(4); // 60 bytes + 4-byte header = 64
      for (let i = 0; i < MESSAGES; i++) await out.writeFrame(payload);
      await bw.flush();
      sink.check();
    },
  },
  {
    group: LINES,
    name: "raw: hand-rolled 64 KiB line splitter",
    baseline: true,
    async run() {
      const rd = new MemoryReader(lines);
      const buf = new Uint8Array(BUFFER);
      let r = 0;
      let w = 0;
      let count = 0;
      for (;;) {
        for (let i; (i = buf.indexOf(0x0a, r)) >= 0 && i < w;) {
          if (buf.subarray(r, i).length !== SIZE - 1) throw new Error("Bad line");
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
      expectCount(count, "lines");
    },
  },
  {
    group: LINES,
    name: "BufReader 64 KiB: await readLine",
    async run() {
      const br = new BufReader(new MemoryReader(lines), BUFFER);
      let count = 0;
      for (let got; (got = await br.readLine()) !== null;) {
        if (got.line.length !== SIZE - 1 || got.more) throw new Error("Bad line");
        count++;
      }
      expectCount(count, "lines");
    },
  },
  {
    group: LINES,
    name: "LineReader 64 KiB: for await (decodes strings)",
    async run() {
      let count = 0;
      for await (const got of new LineReader(new MemoryReader(lines), { bufferSize: BUFFER })) {
        if (got.length !== SIZE - 1) throw new Error("Bad line");
        count++;
      }
      expectCount(count, "lines");
    },
  },
  {
    group: FRAMES,
    name: "raw: hand-rolled 64 KiB frame parser",
    baseline: true,
    async run() {
      const rd = new MemoryReader(frames);
      const buf = new Uint8Array(BUFFER);
      let r = 0;
      let w = 0;
      let count = 0;
      for (;;) {
        while (w - r >= 4) {
          const size =
            ((buf[r]! << 24) | (buf[r + 1]! << 16) | (buf[r + 2]! << 8) | buf[r + 3]!) >>> 0;
          if (w - r < 4 + size) break;
          if (buf.subarray(r + 4, r + 4 + size).length !== SIZE - 4) throw new Error("Bad frame");
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
      expectCount(count, "frames");
    },
  },
  {
    group: FRAMES,
    name: "FrameReader 64 KiB: for await",
    async run() {
      let count = 0;
      for await (const got of new FrameReader(new MemoryReader(frames), { bufferSize: BUFFER })) {
        if (got.length !== SIZE - 4) throw new Error("Bad frame");
        count++;
      }
      expectCount(count, "frames");
    },
  },
  {
    group: FRAMES,
    name: "FrameReader 64 KiB: await readFrame",
    async run() {
      const fr = new FrameReader(new MemoryReader(frames), { bufferSize: BUFFER });
      let count = 0;
      for (let got; (got = await fr.readFrame()) !== null;) {
        if (got.length !== SIZE - 4) throw new Error("Bad frame");
        count++;
      }
      expectCount(count, "frames");
    },
  },
];
