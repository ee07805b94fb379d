/**
 * Nagle's algorithm: a write-write-read exchange stalls on a delayed ACK
 * when Nagle is on. Go turns it off on every TCP conn (SetNoDelay(true)), and
 * so does netconn; `noDelay: false` shows what that saves.
 *
 * @module
 */

import type { Conn, DialOptions } from "../mod.ts";
import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { median } from "../_kit/stats.ts";
import { readFull } from "../_kit/bytes.ts";
import { agreement, both } from "./_agree.ts";

const ROUNDS = 8;

/** Median ms of ROUNDS exchanges: two 10-byte writes, then a 1-byte reply. */
async function writeWriteRead(lab: Lab, dial: DialOptions): Promise<number> {
  const { client, server } = await lab.pair({ dial });
  const served = (async () => {
    const request = new Uint8Array(20);
    for (let i = 0; i < ROUNDS; i++) {
      await readFull(server, request);
      await server.write(request.subarray(0, 1));
    }
  })();
  const head = new Uint8Array(10);
  const body = new Uint8Array(10);
  const reply = new Uint8Array(1);
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    await client.write(head);
    await client.write(body);
    await readFull(client, reply);
    times.push(performance.now() - start);
  }
  await served;
  return Math.round(median(times) * 100) / 100;
}

/** The peer's delayed ACK costs tens of ms; a round trip above this has stalled on it. */
const STALL_MS = 20;

/**
 * Whether `writer`'s write-write-read exchanges with `reader` stall: the
 * median of 6 rounds of two 10-byte writes and a 1-byte reply.
 */
export async function nagleStalls(
  writer: Conn,
  reader: Conn,
): Promise<{ stalls: boolean; ms: number }> {
  const rounds = 6;
  const served = (async () => {
    const request = new Uint8Array(20);
    for (let i = 0; i < rounds; i++) {
      await readFull(reader, request);
      await reader.write(request.subarray(0, 1));
    }
  })();
  const times: number[] = [];
  const reply = new Uint8Array(1);
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    await writer.write(new Uint8Array(10));
    await writer.write(new Uint8Array(10));
    await readFull(writer, reply);
    times.push(performance.now() - start);
  }
  await served;
  const ms = Math.round(median(times) * 100) / 100;
  return { stalls: ms > STALL_MS, ms };
}

/** Round trip of write-write-read with Go's default (NoDelay on) and with Nagle on. */
export const nagle: Experiment = {
  name: "Nagle: write-write-read",
  go: "NoDelay on by default: no delayed-ACK stall",
  goCase: "nagle",
  compare: (go, ours) =>
    agreement(
      both(
        "default under 10 ms",
        (go.numbers.noDelayMs ?? Infinity) < 10,
        (ours.numbers.noDelayMs ?? Infinity) < 10,
      ),
      both(
        "Nagle on stalls",
        go.numbers.nagleMs! > go.numbers.noDelayMs! + 10,
        ours.numbers.nagleMs! > ours.numbers.noDelayMs! + 10,
      ),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const fast = await writeWriteRead(lab, {});
    const slow = await writeWriteRead(lab, { noDelay: false });
    return {
      netconn: `default (noDelay) ${fast} ms; noDelay: false ${slow} ms (median of ${ROUNDS})`,
      numbers: { noDelayMs: fast, nagleMs: slow, rounds: ROUNDS },
      ok: fast < 10,
    };
  },
};

/** The socket-option rows. */
export const optionExperiments: Experiment[] = [nagle];
