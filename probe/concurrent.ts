/**
 * The article's goroutine-safety case: several tasks write whole messages to
 * one conn at once while the peer reads slowly. In Go each Write holds the
 * fd's write lock until its buffer is out, so messages never interleave.
 *
 * @module
 */

import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { type Readable, type Writable, writeAll } from "../_kit/bytes.ts";
import { delay } from "../_kit/wait.ts";
import { agreement, same } from "./_agree.ts";

const WRITERS = 8;
const FRAMES = 6; // per writer
const FRAME = 256 * 1024; // each frame is FRAME copies of its writer's id

/**
 * Runs the writers on `w` while a slow reader reads `r`, and counts the
 * frames that arrived whole: every frame is FRAME bytes of one writer's id,
 * so on a stream where writes stay whole each FRAME-aligned block is uniform.
 */
async function race(
  r: Readable,
  write: (p: Uint8Array) => Promise<void>,
): Promise<{ whole: number; broken: number }> {
  const frames = Array.from({ length: WRITERS }, (_, id) => new Uint8Array(FRAME).fill(id + 1));
  const writers = frames.map(async (frame) => {
    for (let i = 0; i < FRAMES; i++) await write(frame);
  });
  const [counts] = await Promise.all([slowRead(r, WRITERS * FRAMES * FRAME), ...writers]);
  return counts;
}

/** Reads `total` bytes in 64 KiB reads with a pause every 1 MiB, checking each block. */
async function slowRead(r: Readable, total: number): Promise<{ whole: number; broken: number }> {
  const block = new Uint8Array(FRAME);
  let whole = 0;
  let broken = 0;
  for (let seen = 0; seen < total; seen += FRAME) {
    for (let off = 0; off < FRAME;) {
      const n = await r.read(block.subarray(off, Math.min(FRAME, off + 64 * 1024)));
      if (n === null) throw new Error(`Unexpected EOF after ${seen + off} bytes`);
      off += n;
    }
    const id = block[0]!;
    if (block.every((b) => b === id)) whole++;
    else broken++;
    if ((seen / FRAME) % 4 === 3) await delay(1);
  }
  return { whole, broken };
}

/** N tasks write framed messages at once; a slow reader checks each frame is contiguous. */
export const concurrentWriters: Experiment = {
  name: "concurrent writers",
  go: "each Write holds the write lock: frames never interleave",
  limitMs: 15_000,
  goCase: "concurrent-writers",
  compare: (go, ours) =>
    agreement(
      same("whole frames", go.numbers.whole, ours.numbers.whole),
      same("interleaved", go.numbers.interleaved, ours.numbers.interleaved),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const ours = await race(server, async (p) => {
      await client.write(p);
    });
    const raw = await lab.rawPair();
    const theirs = await race(raw.server, (p) => writeAll(raw.client as Writable, p));
    const frames = WRITERS * FRAMES;
    return {
      netconn: `${WRITERS} writers x ${FRAMES} frames of 256 KiB: ` +
        `${ours.whole}/${frames} whole, ${ours.broken} interleaved`,
      raw: `writeAll loops: ${theirs.whole}/${frames} whole, ${theirs.broken} interleaved`,
      numbers: {
        writers: WRITERS,
        frames,
        frameBytes: FRAME,
        whole: ours.whole,
        interleaved: ours.broken,
        rawWhole: theirs.whole,
        rawInterleaved: theirs.broken,
      },
      ok: ours.whole === frames && ours.broken === 0,
    };
  },
};

/** The concurrency rows. */
export const concurrentExperiments: Experiment[] = [concurrentWriters];
