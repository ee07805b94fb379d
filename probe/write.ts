/**
 * The article's write cases: success, blocking on full socket buffers, a
 * partial write when the peer dies, and a write deadline (client5, client6).
 *
 * @module
 */

import { type Conn, NetError, TimeoutError } from "../mod.ts";
import type { GoResult } from "./_go.ts";
import type { Agreement, Experiment, Lab, Outcome } from "./_lab.ts";
import { bytes, describe, kindOf } from "./_cells.ts";
import { drain, ramp, writeAll } from "../_kit/bytes.ts";
import { failure, since, whenStalled } from "../_kit/wait.ts";
import { agreement, both, nearBytes, same, sameError } from "./_agree.ts";
import { LOOPBACK } from "../_kit/loopback.ts";

const CHUNK = 64 * 1024; // client5's 65536-byte writes
const BIG = 8 * 1024 * 1024;
const RUNAWAY = 512 * 1024 * 1024; // a writer that never blocks is broken
/** The article's client6 deadline: 10 µs, in ms. */
export const CLIENT6_AHEAD_MS = 0.01;

/** One write of 8 MiB to a reading peer: all of it, in one call. */
export const writeSuccess: Experiment = {
  name: "write success",
  go: "Write returns len(p), nil",
  goCase: "write-success",
  compare: (go, ours) =>
    agreement(
      same("returned", go.numbers.returned, ours.numbers.returned),
      same("peer got", go.numbers.received, ours.numbers.received),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const p = ramp(BIG);
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
  goCase: "write-blocking",
  compare: compareBlocking,
  async run(lab: Lab): Promise<Outcome> {
    const { client } = await lab.pair();
    return await fillWithDeadlines(client);
  },
};

/**
 * client5's loop on `client`, whose peer does not read: 64 KiB writes, each
 * with a write deadline 200 ms ahead, until one blocks past it.
 */
export async function fillWithDeadlines(client: Conn, who = ""): Promise<Outcome> {
  const waitMs = 200;
  const start = performance.now();
  const { total, writes, error } = await writeWithDeadlines(client, new Uint8Array(CHUNK), waitMs);
  const ms = since(start);
  const partial = error instanceof TimeoutError ? error.bytesWritten ?? -1 : -1;
  const accepted = total + Math.max(partial, 0);
  return {
    netconn: `${who}${writes} writes of 64 KiB went through (${bytes(total)}), the next ` +
      `blocked: ${describe(error)} at ${waitMs} ms, bytesWritten ${partial}`,
    numbers: { accepted, fullWrites: writes, timedOutBytesWritten: partial, waitMs, ms },
    facts: { error: kindOf(error) },
    ok: error instanceof TimeoutError && partial >= 0 && partial < CHUNK && writes > 0 &&
      client.stats().bytesWritten === accepted,
  };
}

/** Blocking rows agree when both sides blocked by a timeout after about as many bytes. */
export function compareBlocking(go: GoResult, ours: Outcome): Agreement {
  return agreement(
    sameError(go.facts?.error, ours.facts?.error),
    nearBytes("accepted", go.numbers.accepted, ours.numbers.accepted),
  );
}

/**
 * One 32 MiB write; once it is blocked the peer closes with unread data,
 * which resets. Measured twice: against a netconn peer, and (with Go)
 * against a Go peer, whose Close is close(2) alone.
 */
export const partialWrite: Experiment = {
  name: "partial write, peer dies",
  go: "Write returns n > 0 and connection reset by peer",
  goCase: "partial-write",
  compare: (go, ours) =>
    agreement(
      // reset vs broken-pipe against a netconn peer is the decision's (peerCloseSendsFin).
      sameError(go.facts?.error, ours.facts?.error, "error", ["reset", "broken-pipe"]),
      ...(ours.facts?.againstGo === undefined
        ? []
        : [sameError(go.facts?.error, ours.facts.againstGo, "error against a Go peer")]),
      nearBytes("bytesWritten", go.numbers.bytesWritten, ours.numbers.bytesWritten),
    ),
  decision: peerCloseSendsFin,
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const mine = await writeUntilPeerDies(client, () => server.close());
    let againstGo: Awaited<ReturnType<typeof writeUntilPeerDies>> | undefined;
    if (lab.hasGo) {
      const peer = lab.goPeer("serve-noread");
      const conn = await lab.dial(`${LOOPBACK}:${await peer.port()}`);
      againstGo = await writeUntilPeerDies(conn, () => void peer.endInput());
    }
    const n = mine.bytesWritten;
    return {
      netconn: `write(32 MiB) blocked at ${bytes(mine.blockedAt)}; peer closed with data unread ` +
        `→ ${describe(mine.error)} in ${mine.ms} ms, bytesWritten ${n}` +
        (againstGo === undefined
          ? ""
          : `; against a Go peer: ${describe(againstGo.error)}, bytesWritten ` +
            `${againstGo.bytesWritten}`),
      numbers: {
        requested: PARTIAL,
        blockedAt: mine.blockedAt,
        bytesWritten: n,
        ms: mine.ms,
        ...(againstGo === undefined ? {} : { againstGoBytesWritten: againstGo.bytesWritten }),
      },
      facts: {
        error: mine.kind,
        ...(againstGo === undefined ? {} : { againstGo: againstGo.kind }),
      },
      ok: [mine, againstGo].every((m) =>
        m === undefined ||
        ((m.kind === "reset" || m.kind === "broken-pipe") && m.bytesWritten > 0 &&
          m.bytesWritten < PARTIAL && m.bytesWritten === m.written)
      ),
    };
  },
};

const PARTIAL = 32 * 1024 * 1024;

/** Writes 32 MiB to `client` until it blocks, then kills the peer; how the write failed. */
async function writeUntilPeerDies(client: Conn, kill: () => void): Promise<{
  blockedAt: number;
  error: unknown;
  kind: string;
  bytesWritten: number;
  written: number;
  ms: number;
}> {
  const failed = failure(client.write(new Uint8Array(PARTIAL)));
  const blockedAt = await whenStalled(() => client.stats().bytesWritten, {
    quietMs: 100,
    limitMs: 3000,
  });
  kill(); // unread data: the kernel sends RST
  const start = performance.now();
  const error = await failed;
  const ms = since(start);
  return {
    blockedAt,
    error,
    kind: error instanceof NetError ? error.kind : "none",
    bytesWritten: error instanceof NetError ? error.bytesWritten ?? -1 : -1,
    written: client.stats().bytesWritten,
    ms,
  };
}

/**
 * The decision the partial-write row shows when netconn's waiting write
 * reports a broken pipe where Go's reports the reset: the peer was a netconn
 * conn closed before it read or wrote (or without --allow-ffi, or off Linux),
 * whose close sends FIN before the reset (docs/probe.md).
 */
export function peerCloseSendsFin(ours: Outcome, go: GoResult | undefined): string | undefined {
  if (ours.facts?.error !== "broken-pipe" || (go?.facts?.error ?? "reset") !== "reset") {
    return undefined;
  }
  const againstGo = ours.facts.againstGo === undefined
    ? ""
    : ` Against a Go peer, netconn's waiting write reported ${ours.facts.againstGo}.`;
  return "the peer's close: Deno's close shuts the write side (FIN) before close(2) resets, so " +
    "Linux reports the reset to the waiting write as EPIPE (a reset in CLOSE_WAIT); Go's Close " +
    `is close(2) alone, whose reset is ECONNRESET.${againstGo} netconn's close aborts a conn ` +
    "with bytes unread only once it has read or written, with --allow-ffi on Linux " +
    "(docs/probe.md, Decisions)";
}

/**
 * client6: a deadline 10 µs ahead on each 64 KiB write to a peer that does
 * not read, as the article has it. Then the peer drains: the full writes plus
 * the timed-out write's final count (`settled`) must be exactly what the peer
 * received.
 */
export const writeTimeout: Experiment = {
  name: "write timeout",
  go: "Write returns n and i/o timeout; n bytes were sent",
  goCase: "write-timeout",
  compare: compareTimeout,
  decision: strandedWrite,
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    return await timeoutRow(client, server);
  },
};

/**
 * client6 on `client` against `server`, which reads only once the write
 * timed out: the row, with what the peer received in the end.
 */
export async function timeoutRow(client: Conn, server: Conn): Promise<Outcome> {
  const written = await writeUntilTimeout(client);
  if (written.error === undefined) return written.outcome;
  const received = drain(server, { check: true });
  const final = await written.final;
  client.close();
  const got = await received;
  return settle(written, final, got.bytes, got.intact);
}

/** What {@linkcode writeUntilTimeout} found. */
export interface TimedOut {
  /** The row so far (when the write did not time out, the whole row). */
  outcome: Outcome;
  /** The timeout, if the write timed out. */
  error?: TimeoutError;
  /** Bytes of the full writes. */
  total: number;
  /** The timed-out write's final count, once its runtime write has ended. */
  final: Promise<number>;
}

/**
 * The article's write loops: `chunk` again and again, each write with a
 * deadline `aheadMs` ahead, until one fails (or a runaway limit).
 */
async function writeWithDeadlines(
  client: Conn,
  chunk: Uint8Array,
  aheadMs: number,
): Promise<{ total: number; writes: number; error: unknown }> {
  let total = 0;
  let writes = 0;
  while (total < RUNAWAY) {
    client.setWriteDeadline(Date.now() + aheadMs);
    try {
      total += await client.write(chunk);
      writes++;
    } catch (error) {
      return { total, writes, error };
    }
  }
  return { total, writes, error: undefined };
}

/** client6's loop on `client`: 10 µs deadlines on 64 KiB pattern writes until one times out. */
export async function writeUntilTimeout(client: Conn): Promise<TimedOut> {
  const chunk = ramp(CHUNK); // CHUNK % 256 === 0: repeats continue the pattern
  const { total, writes, error } = await writeWithDeadlines(client, chunk, CLIENT6_AHEAD_MS);
  const numbers = { aheadUs: CLIENT6_AHEAD_MS * 1000, fullWrites: writes, total };
  if (!(error instanceof TimeoutError)) {
    const outcome = {
      netconn: `no timeout: ${describe(error)}`,
      numbers,
      facts: { error: kindOf(error) },
      ok: false,
    };
    return { outcome, total, final: Promise.resolve(0) };
  }
  const partial = error.bytesWritten ?? -1;
  return {
    outcome: { netconn: "", numbers: { ...numbers, bytesWritten: partial }, ok: false },
    error,
    total,
    final: error.settled ?? Promise.resolve(partial),
  };
}

/** The row of a timed-out write whose peer received `received` bytes in all. */
export function settle(
  written: TimedOut,
  final: number,
  received: number,
  intact: boolean,
  who = "",
): Outcome {
  const { error, total, outcome } = written;
  const partial = outcome.numbers.bytesWritten ?? -1;
  const isTimeout = error !== undefined && error.timeout && error.message.includes("i/o timeout");
  const writes = outcome.numbers.fullWrites ?? 0;
  return {
    netconn: `${who}+10 µs deadlines: ${writes} full writes (${bytes(total)}), then ` +
      `${describe(error)}, bytesWritten ${partial}; settled ${final}; peer got ` +
      `${bytes(total)} + ${final}`,
    numbers: { ...outcome.numbers, settled: final, received, intact: intact ? 1 : 0 },
    facts: { error: kindOf(error) },
    ok: isTimeout && total > 0 && partial >= 0 && final >= partial && received === total + final &&
      intact,
  };
}

/**
 * The decision a netconn write timeout shows when its stranded runtime write
 * sent more of the chunk after the timeout than `bytesWritten` said, where
 * Go's final count is what its timed-out write had sent.
 */
export function strandedWrite(ours: Outcome, go: GoResult | undefined): string | undefined {
  const { bytesWritten, settled } = ours.numbers;
  const goFinal = go?.numbers.bytesWritten ?? bytesWritten;
  if (settled === undefined || settled === goFinal) return undefined;
  return `Deno cannot cancel a runtime write: the timed-out write had sent ${bytesWritten} bytes, ` +
    `and its runtime write sent ${settled} in all once the peer read; the TimeoutError's ` +
    "settled gives that final count, where Go's n is final (docs/contract.md, Deadlines)";
}

/**
 * Timeout rows agree when both timed out after about as many bytes in full
 * writes, and on both the peer received exactly the bytes counted.
 * `fewerDecided` leaves fewer full writes on Go's side to the row's decision.
 */
export function compareTimeout(go: GoResult, ours: Outcome, fewerDecided = false): Agreement {
  const g = go.numbers;
  const o = ours.numbers;
  const [near, figures] = nearBytes("full writes", g.total, o.total);
  return agreement(
    sameError(go.facts?.error, ours.facts?.error),
    // With fewerDecided, fewer full writes on Go's side are the row's decision's.
    [near || (fewerDecided && (g.total ?? 0) < (o.total ?? 0)), figures],
    both(
      "peer got the counted bytes",
      g.received === undefined || g.received === g.total! + g.bytesWritten!,
      o.received === o.total! + o.settled!,
    ),
    // The final count is the decision's (strandedWrite): shown side by side, judged there.
    [true, `final count of the timed-out write: Go ${g.bytesWritten}, netconn ${o.settled}`],
  );
}

/** The write rows, in the article's order. */
export const writeExperiments: Experiment[] = [
  writeSuccess,
  writeBlocking,
  partialWrite,
  writeTimeout,
];
