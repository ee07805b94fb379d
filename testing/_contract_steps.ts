/**
 * The steps of netconn's own contract, beyond Go's `nettest`: deadlines
 * moved while a read waits, whole concurrent writes, true counts after a
 * write timeout, no byte lost by a read timeout, half close. Internal to
 * testConn.
 *
 * @module
 */

import type { Step, StepRun } from "./_step.ts";
import {
  checkTimeout,
  ConnTestFailure,
  describeError,
  dueIn,
  fillPattern,
  mustEnd,
  mustStayPending,
  mustTimeOut,
  patternMismatch,
  sleep,
} from "./_conn_check.ts";

const KIB = 1024;

/** A waiting read sees its deadline moved earlier (it times out) and later (it does not). */
async function deadlineMoved({ a, b, waitMs, lateMs }: StepRun): Promise<void> {
  const buf = new Uint8Array(KIB);
  a.setReadDeadline(Date.now() + 60_000);
  const early = a.read(buf);
  await mustStayPending(early, 30, "a read with its deadline a minute ahead");
  const due = dueIn(20, lateMs);
  a.setReadDeadline(due.at);
  await mustTimeOut(
    early,
    20 + waitMs,
    "a read waiting when its deadline was moved earlier",
    due,
  );

  a.setReadDeadline(Date.now() + 50);
  const later = a.read(buf);
  a.setReadDeadline(Date.now() + 60_000);
  await mustStayPending(later, 150, "a read whose deadline was moved from 50 ms to a minute ahead");
  await mustEnd(b.write(new Uint8Array([7])), waitMs, "a write to a waiting read").catch((e) => {
    throw new ConnTestFailure(`a write to a waiting read failed: ${describeError(e)}`);
  });
  const n = await mustEnd(later, waitMs, "a read given a byte").catch((e) => {
    if (e instanceof ConnTestFailure) throw e;
    throw new ConnTestFailure(
      `a read whose deadline was moved later failed when a byte came: ${describeError(e)}`,
    );
  });
  if (n !== 1 || buf[0] !== 7) throw new ConnTestFailure(`a read given one byte returned ${n}`);
}

const WRITERS = 8;
const MESSAGES = 2;
const MESSAGE = 128 * KIB;

/** Eight writers, two messages of 128 KiB each, at once: each message arrives whole. */
async function wholeWrites({ a, b, tasks, waitMs }: StepRun): Promise<void> {
  const total = WRITERS * MESSAGES * MESSAGE;
  const got = new Uint8Array(total);
  let n = 0;
  const reading = tasks.spawn(async () => {
    const buf = new Uint8Array(64 * KIB);
    while (n < total) {
      const m = await b.read(buf.subarray(0, Math.min(buf.length, total - n)));
      if (m === null) throw new ConnTestFailure(`EOF after ${n} of ${total} bytes`);
      got.set(buf.subarray(0, m), n);
      n += m;
    }
  });
  const writers = Array.from({ length: WRITERS }, (_, w) =>
    tasks.spawn(async () => {
      for (let k = 0; k < MESSAGES; k++) {
        await a.write(new Uint8Array(MESSAGE).fill(w * MESSAGES + k + 1));
      }
    }));
  await mustEnd(Promise.all(writers), 5 * waitMs, `${WRITERS} writers of ${MESSAGES} messages`)
    .catch((e) => {
      throw e instanceof ConnTestFailure
        ? e
        : new ConnTestFailure(`a concurrent write failed: ${describeError(e)}`);
    });
  await mustEnd(reading, waitMs, `reading ${total} bytes`);
  const seen = new Set<number>();
  for (let at = 0; at < total; at += MESSAGE) {
    const value = got[at]!;
    const run = got.subarray(at, at + MESSAGE).findIndex((x) => x !== value);
    if (run >= 0 || seen.has(value)) {
      throw new ConnTestFailure(
        `concurrent writes interleaved: at byte ${at + Math.max(run, 0)} a message of ` +
          `${MESSAGE} bytes (value ${value}) was cut by another write's bytes`,
      );
    }
    seen.add(value);
  }
}

/**
 * Writes of 1 MiB until one times out with the peer not reading; then the
 * peer reads everything: what it receives is exactly the full writes plus
 * the timed-out write's final count, in order.
 */
async function trueCounts({ a, b, tasks, waitMs }: StepRun): Promise<void> {
  a.setWriteDeadline(Date.now() + 100);
  let sent = 0;
  let timedOut: unknown;
  for (let i = 0; i < 64 && timedOut === undefined; i++) {
    try {
      sent += await mustEnd(
        a.write(fillPattern(new Uint8Array(KIB * KIB), sent)),
        100 + waitMs,
        "a write under a deadline 100 ms ahead",
      );
    } catch (e) {
      if (e instanceof ConnTestFailure) throw e;
      checkTimeout(e, "a write to a peer that does not read");
      timedOut = e;
    }
  }
  if (timedOut === undefined) {
    throw new ConnTestFailure("64 MiB of writes to a peer that does not read did not time out");
  }
  let received = 0;
  const reading = tasks.spawn(async () => {
    const buf = new Uint8Array(256 * KIB);
    for (let m = await b.read(buf); m !== null; m = await b.read(buf)) {
      const at = patternMismatch(buf.subarray(0, m), received);
      if (at >= 0) {
        throw new ConnTestFailure(`the peer received a wrong byte at offset ${received + at}`);
      }
      received += m;
    }
  });
  const { bytesWritten, settled } = timedOut as { bytesWritten?: unknown; settled?: unknown };
  if (typeof bytesWritten !== "number") {
    throw new ConnTestFailure(
      `a timed-out write has no bytesWritten count: ${describeError(timedOut)}`,
    );
  }
  const final = settled instanceof Promise
    ? await mustEnd(
      settled as Promise<number>,
      waitMs,
      "the timed-out write's settled, with the peer reading",
    )
    : bytesWritten;
  if (final < bytesWritten) {
    throw new ConnTestFailure(
      `a timed-out write's settled (${final}) is below its bytesWritten (${bytesWritten})`,
    );
  }
  a.setWriteDeadline(null);
  if (a.closeWrite !== undefined) await mustEnd(a.closeWrite(), waitMs, "closeWrite");
  else a.close();
  await mustEnd(reading, 5 * waitMs, "the peer reading until EOF");
  if (received !== sent + final) {
    const counts = settled instanceof Promise
      ? `bytesWritten ${bytesWritten}, settled ${final}`
      : `bytesWritten ${bytesWritten}`;
    throw new ConnTestFailure(
      `the peer received ${received} bytes, but the writes reported ${sent + final} ` +
        `(${sent} in full writes, then a timed-out write with ${counts})`,
    );
  }
}

/** Reads under 1 ms deadlines while the peer writes slowly: every byte arrives, in order. */
async function noByteLost({ a, b, tasks, waitMs }: StepRun): Promise<void> {
  const total = 16 * KIB;
  const writing = tasks.spawn(async () => {
    for (let off = 0; off < total; off += 256) {
      await b.write(fillPattern(new Uint8Array(256), off));
      if (off % 1024 === 0) await sleep(2);
    }
  });
  const got = new Uint8Array(total);
  let n = 0;
  let timeouts = 0;
  const reading = tasks.spawn(async () => {
    const buf = new Uint8Array(KIB);
    while (n < total) {
      a.setReadDeadline(Date.now() + 1);
      try {
        const m = await a.read(buf.subarray(0, Math.min(buf.length, total - n)));
        if (m === null) throw new ConnTestFailure(`EOF after ${n} of ${total} bytes`);
        got.set(buf.subarray(0, m), n);
        n += m;
      } catch (e) {
        if (e instanceof ConnTestFailure) throw e;
        checkTimeout(e, "a read under a 1 ms deadline");
        timeouts++;
      }
    }
  });
  let finished = false;
  reading.then(() => finished = true, () => finished = true);
  await mustEnd(writing, 5 * waitMs, "the peer writing 16 KiB slowly");
  await mustEnd(reading, waitMs, "reading 16 KiB under 1 ms deadlines").catch((e) => {
    if (finished) throw e; // a read failed: its own message says how
    throw new ConnTestFailure(
      `bytes were lost around read timeouts: ${n} of the ${total} bytes the peer wrote ` +
        `arrived (${timeouts} reads timed out)`,
    );
  });
  const at = patternMismatch(got, 0);
  if (at >= 0) {
    throw new ConnTestFailure(
      `bytes were lost or reordered around read timeouts: byte ${at} differs`,
    );
  }
}

/** closeWrite: the peer reads what came before, then EOF, and can still send. */
async function halfClose({ a, b, waitMs }: StepRun): Promise<void> {
  if (a.closeWrite === undefined) return;
  const buf = new Uint8Array(KIB);
  const reading = b.read(buf);
  await mustEnd(a.write(new Uint8Array([1, 2, 3])), waitMs, "a write before closeWrite");
  await mustEnd(a.closeWrite(), waitMs, "closeWrite");
  if (await mustEnd(reading, waitMs, "the peer's read before EOF") !== 3) {
    throw new ConnTestFailure("the peer did not read the bytes written before closeWrite");
  }
  const eof = await mustEnd(b.read(buf), waitMs, "the peer's read after closeWrite", "no EOF");
  if (eof !== null) {
    throw new ConnTestFailure(`the peer's read after closeWrite returned ${eof}, want null (EOF)`);
  }
  const back = a.read(buf);
  await mustEnd(b.write(new Uint8Array([4])), waitMs, "the peer writing back after closeWrite")
    .catch((e) => {
      if (e instanceof ConnTestFailure) throw e;
      throw new ConnTestFailure(
        `the peer could not write back after closeWrite (${describeError(e)}): ` +
          "closeWrite closed more than the sending side",
      );
    });
  const n = await mustEnd(back, waitMs, "a read after closeWrite").catch((e) => {
    if (e instanceof ConnTestFailure) throw e;
    throw new ConnTestFailure(
      `a read after closeWrite failed (${describeError(e)}): closeWrite closed more than ` +
        "the sending side",
    );
  });
  if (n !== 1) {
    throw new ConnTestFailure(
      `after closeWrite the conn read ${n} of the 1 byte the peer sent back`,
    );
  }
  await a.write(new Uint8Array(1)).then(
    () => Promise.reject(new ConnTestFailure("a write after closeWrite succeeded")),
    () => {},
  );
}

/** netconn's contract beyond Go's. */
export const contractSteps: Step[] = [
  ["a deadline moved while a read waits takes effect", deadlineMoved],
  ["concurrent writes never interleave", wholeWrites],
  ["a timed-out write's count is what the peer receives", trueCounts],
  ["a read that timed out loses no bytes", noByteLost],
  ["closeWrite: the peer reads EOF and can still send", halfClose],
];
