/**
 * Nagle's algorithm: a write-write-read exchange stalls on a delayed ACK
 * when Nagle is on. Go turns it off on every TCP conn (SetNoDelay(true)), and
 * so does netconn; `noDelay: false` shows what that saves.
 *
 * @module
 */

import type { DialOptions } from "../mod.ts";
import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { median, readFull } from "./_io.ts";

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

/** Round trip of write-write-read with Go's default (NoDelay on) and with Nagle on. */
export const nagle: Experiment = {
  name: "Nagle: write-write-read",
  go: "NoDelay on by default: no delayed-ACK stall",
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
