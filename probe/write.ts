/**
 * The article's write cases: success, blocking on full socket buffers, a
 * partial write when the peer dies, and a write deadline (client5, client6).
 *
 * @module
 */

import { NetError, TimeoutError } from "../mod.ts";
import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { bytes, describe, drain, failure, pattern, since, whenStalled, writeAll } from "./_io.ts";

const CHUNK = 64 * 1024; // client5's 65536-byte writes
const BIG = 8 * 1024 * 1024;
const RUNAWAY = 512 * 1024 * 1024; // a writer that never blocks is broken

/** One write of 8 MiB to a reading peer: all of it, in one call. */
export const writeSuccess: Experiment = {
  name: "write success",
  go: "Write returns len(p), nil",
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const p = pattern(BIG);
    const received = drain(server, { limit: BIG, check: true });
    const start = performance.now();
    const n = await client.write(p);
    const ms = since(start);
    const got = await received;

    const raw = await lab.rawPair();
    const rawReceived = drain(raw.server, { limit: BIG });
    const rawN = await raw.client.write(p);
    await writeAll(raw.client, p.subarray(rawN));
    await rawReceived;
    return {
      netconn: `write(8 MiB) → ${n} in one call (${ms} ms); peer got ${bytes(got.bytes)} intact`,
      raw: `write(8 MiB) → ${bytes(rawN)}: caller must loop`,
      numbers: { requested: BIG, returned: n, received: got.bytes, ms, rawReturned: rawN },
      ok: n === BIG && got.bytes === BIG && got.intact,
    };
  },
};

/**
 * client5 against a peer that never reads: 64 KiB writes, each with a write
 * deadline 200 ms ahead, until one blocks past it.
 */
export const writeBlocking: Experiment = {
  name: "write blocking",
  go: "Write blocks once both socket buffers are full",
  async run(lab: Lab): Promise<Outcome> {
    const { client } = await lab.pair();
    const chunk = new Uint8Array(CHUNK);
    const waitMs = 200;
    let total = 0;
    let writes = 0;
    let error: unknown;
    const start = performance.now();
    while (total < RUNAWAY) {
      client.setWriteDeadline(Date.now() + waitMs);
      try {
        total += await client.write(chunk);
        writes++;
      } catch (e) {
        error = e;
        break;
      }
    }
    const ms = since(start);
    const partial = error instanceof TimeoutError ? error.bytesWritten ?? -1 : -1;
    const accepted = total + Math.max(partial, 0);
    return {
      netconn: `${writes} writes of 64 KiB went through (${bytes(total)}), the next blocked: ` +
        `${describe(error)} at ${waitMs} ms, bytesWritten ${partial}`,
      numbers: { accepted, fullWrites: writes, timedOutBytesWritten: partial, waitMs, ms },
      ok: error instanceof TimeoutError && partial >= 0 && partial < CHUNK && writes > 0 &&
        client.stats().bytesWritten === accepted,
    };
  },
};

/** One 32 MiB write; once it is blocked the peer closes with unread data, which resets. */
export const partialWrite: Experiment = {
  name: "partial write, peer dies",
  go: "Write returns n > 0 and a reset / broken-pipe error",
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const p = new Uint8Array(32 * 1024 * 1024);
    const failed = failure(client.write(p));
    const blockedAt = await whenStalled(() => client.stats().bytesWritten, {
      quietMs: 100,
      limitMs: 3000,
    });
    server.close(); // unread data: the kernel sends RST
    const start = performance.now();
    const error = await failed;
    const ms = since(start);
    const n = error instanceof NetError ? error.bytesWritten ?? -1 : -1;
    const kind = error instanceof NetError ? error.kind : "none";
    return {
      netconn: `write(32 MiB) blocked at ${bytes(blockedAt)}; peer reset → ` +
        `${describe(error)} in ${ms} ms, bytesWritten ${n}`,
      numbers: { requested: p.length, blockedAt, bytesWritten: n, ms },
      ok: (kind === "reset" || kind === "broken-pipe") && n > 0 && n < p.length &&
        n === client.stats().bytesWritten,
    };
  },
};

/**
 * client6: a tiny deadline on each 64 KiB write to a peer that does not read.
 * (client6 uses 10 µs; JavaScript clocks tick in ms, and a deadline 1 ms
 * ahead may already have passed when the write starts, so 5 ms.) Then the
 * peer drains: the full writes plus the timed-out write's final count
 * (`settled`) must be exactly what the peer received.
 */
export const writeTimeout: Experiment = {
  name: "write timeout",
  go: "Write returns n and i/o timeout; n bytes were sent",
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const chunk = pattern(CHUNK); // CHUNK % 256 === 0: repeats continue the pattern
    const aheadMs = 5;
    let total = 0;
    let error: unknown;
    while (total < RUNAWAY) {
      client.setWriteDeadline(Date.now() + aheadMs);
      try {
        total += await client.write(chunk);
      } catch (e) {
        error = e;
        break;
      }
    }
    if (!(error instanceof TimeoutError)) {
      return { netconn: `no timeout: ${describe(error)}`, numbers: { total }, ok: false };
    }
    const partial = error.bytesWritten ?? -1;
    const received = drain(server, { check: true });
    const final = await (error.settled ?? Promise.resolve(partial));
    client.close();
    const got = await received;
    const isTimeout = error.timeout && error.message.includes("i/o timeout");
    return {
      netconn: `+${aheadMs} ms deadlines: ${bytes(total)} in full writes, then i/o timeout, ` +
        `bytesWritten ${partial}; settled ${final}; peer got ${bytes(total)} + ${final}`,
      numbers: { aheadMs, total, bytesWritten: partial, settled: final, received: got.bytes },
      ok: isTimeout && total > 0 && partial >= 0 && final >= partial &&
        got.bytes === total + final && got.intact,
    };
  },
};

/** The write rows, in the article's order. */
export const writeExperiments: Experiment[] = [
  writeSuccess,
  writeBlocking,
  partialWrite,
  writeTimeout,
];
