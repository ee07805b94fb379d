// Bounded readers allocate as data arrives, not what a header claims, and a
// limit of N costs about N, not 2N. Memory is read from what the buffers
// hold (ArrayBuffer byteLength) and from Deno.memoryUsage().external, which
// counts ArrayBuffer memory as it is committed, with generous bounds.

import assert from "node:assert/strict";
import {
  BufReader,
  FrameReader,
  LineReader,
  type Reader,
  UnexpectedEofError,
} from "../../bufio/mod.ts";
import { BytesReader } from "../_iotest.ts";
import { dec } from "../../_kit/bytes.ts";

const MiB = 1024 * 1024;

function external(): number {
  return Deno.memoryUsage().external;
}

// Serves `head`, then `chunk`-byte reads of "a" until `total` bytes came,
// then the end of the stream. Records external memory when the last byte
// has been served.
class Trickle implements Reader {
  served = 0;
  externalAtEnd = 0;
  #head: Uint8Array;
  #total: number;
  #chunk: number;

  constructor(head: Uint8Array, total: number, chunk: number) {
    this.#head = head;
    this.#total = total;
    this.#chunk = chunk;
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#head.length > 0) {
      const n = Math.min(p.length, this.#head.length);
      p.set(this.#head.subarray(0, n));
      this.#head = this.#head.subarray(n);
      return Promise.resolve(n);
    }
    if (this.served === this.#total) {
      this.externalAtEnd = external();
      return Promise.resolve(null);
    }
    const n = Math.min(p.length, this.#chunk, this.#total - this.served);
    p.fill(0x61, 0, n);
    this.served += n;
    return Promise.resolve(n);
  }
}

Deno.test("FrameReader: a header claiming 4 GiB under a 4 GiB limit costs what arrived", async () => {
  const claimed = 2 ** 32 - 1;
  const arrived = 2 * MiB;
  const trickle = new Trickle(new Uint8Array([255, 255, 255, 255]), arrived, 1024);
  const before = external();
  const frames = new FrameReader(trickle, { maxFrameSize: claimed });
  const err = await frames.readFrame().catch((e) => e);
  assert.ok(err instanceof UnexpectedEofError, String(err));
  assert.equal(err.expected, claimed);
  assert.equal(err.partial.length, arrived);
  // The bytes that arrived are all the memory the frame got.
  assert.equal(err.partial.buffer.byteLength, arrived);
  const grown = trickle.externalAtEnd - before;
  assert.ok(grown < arrived + 4 * MiB, `external grew ${(grown / MiB).toFixed(1)} MiB`);
});

Deno.test("FrameReader: a large frame that arrives whole is one array of its length", async () => {
  const size = 3 * MiB + 5;
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, size);
  const frames = new FrameReader(new Trickle(head, size, 64 * 1024), { bufferSize: 4096 });
  const frame = await frames.readFrame();
  assert.equal(frame!.length, size);
  assert.equal(frame!.buffer.byteLength, size);
  assert.ok(frame!.every((b) => b === 0x61));
  assert.equal(await frames.readFrame(), null);
});

Deno.test("BufReader readExact grows as bytes come; a count it cannot reserve rejects", async () => {
  const trickle = new Trickle(new Uint8Array(0), MiB, 100);
  const br = new BufReader(trickle, 16);
  const before = external();
  const err = await br.readExact(2 ** 32).catch((e) => e);
  assert.ok(err instanceof UnexpectedEofError, String(err));
  assert.equal(err.partial.length, MiB);
  assert.equal(err.partial.buffer.byteLength, MiB);
  assert.ok(trickle.externalAtEnd - before < 4 * MiB);

  const intact = new BufReader(new BytesReader("abc"), 16);
  await assert.rejects(intact.readExact(2 ** 53 - 1), RangeError);
  assert.equal(dec((await intact.readExact(3))!), "abc");
});

// Runs tests/bufio/_memory_child.ts on an endless line with a limit of
// `limit` MiB, in a fresh process.
async function endlessLine(
  kind: "read-string" | "line-reader",
  limit: number,
): Promise<{ name: string; partial?: number; grown: number }> {
  const child = new URL("./_memory_child.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", child, kind, String(limit)],
    stdin: "null",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test("BufReader readString: a limit of N on an endless line costs about N", async () => {
  const limit = 64; // MiB
  const got = await endlessLine("read-string", limit);
  assert.equal(got.name, "BufferFullError");
  assert.ok(got.partial! > limit * MiB && got.partial! <= limit * MiB + 64 * 1024);
  // The partial bytes, once: not a copy of every piece and then their concatenation.
  assert.ok(got.grown < limit * MiB * 1.25, `external grew ${(got.grown / MiB).toFixed(1)} MiB`);
});

Deno.test("LineReader: an endless line over the limit costs no copy of its bytes", async () => {
  const limit = 64; // MiB
  const got = await endlessLine("line-reader", limit);
  assert.equal(got.name, "MessageTooLargeError");
  assert.ok(got.grown < limit * MiB / 4, `external grew ${(got.grown / MiB).toFixed(1)} MiB`);
});

Deno.test("LineReader: a line longer than the buffer decodes whole, multi-byte characters across pieces", async () => {
  const line = "é€😀a".repeat(5_000);
  const lines = new LineReader(new BytesReader(line + "\r\nnext\n"), { bufferSize: 16 });
  assert.equal(await lines.readLine(), line);
  assert.equal(await lines.readLine(), "next");
  assert.equal(await lines.readLine(), null);
});
