/**
 * The steps of Go's `nettest.TestConn`, in netconn's terms: each names
 * what it expects and fails with what it saw. Internal to testConn.
 *
 * @module
 */

import type { ConnUnderTest } from "./make_pipe.ts";
import type { Step, StepRun } from "./_step.ts";
import {
  checkLate,
  checkTimeout,
  ConnTestFailure,
  copy,
  describeError,
  type Due,
  dueIn,
  fillPattern,
  mustEnd,
  mustTimeOut,
  patternMismatch,
  readFull,
  sleep,
  type Tasks,
  writeChunked,
} from "./_conn_check.ts";

const LONG_AGO = 233431200_000; // a deadline long past, as Go's aLongTimeAgo
const KIB = 1024;

/** What `a` writes, `b` reads in full, then EOF once `a` closes. */
async function basicIo({ a, b, tasks, waitMs }: StepRun): Promise<void> {
  const want = fillPattern(new Uint8Array(KIB * KIB), 0);
  const writing = tasks.spawn(async () => {
    await writeChunked(a, want);
    a.close();
  });
  const got = new Uint8Array(want.length + KIB);
  let n = 0;
  const buf = new Uint8Array(KIB);
  const reading = tasks.spawn(async () => {
    for (let m = await b.read(buf); m !== null; m = await b.read(buf)) {
      if (n + m > want.length) {
        throw new ConnTestFailure(`b read more than the ${want.length} bytes a wrote`);
      }
      got.set(buf.subarray(0, m), n);
      n += m;
    }
  });
  await mustEnd(writing, 5 * waitMs, "a writing 1 MiB in writes of 1 KiB");
  await mustEnd(reading, waitMs, "b reading until EOF after a closed", "no EOF");
  if (n !== want.length) {
    throw new ConnTestFailure(`b read ${n} bytes before EOF, want ${want.length}`);
  }
  const at = patternMismatch(got.subarray(0, n), 0);
  if (at >= 0) throw new ConnTestFailure(`the bytes b read differ from what a wrote at byte ${at}`);
  const again = await mustEnd(b.read(buf), waitMs, "a read after EOF");
  if (again !== null) throw new ConnTestFailure(`a read after EOF returned ${again}, want null`);
}

/** Both ends bounce a counter back and forth 1000 times, request and response. */
async function pingPong({ a, b, tasks, waitMs }: StepRun): Promise<void> {
  const player = (c: ConnUnderTest) => async () => {
    let prev = -1;
    for (;;) {
      const buf = await readFull(c, 8);
      if (buf === null) break;
      const view = new DataView(buf.buffer);
      const v = view.getUint32(0, true);
      if (prev >= 0 && v !== prev + 2) {
        throw new ConnTestFailure(`ping-pong: got ${v} after ${prev}, want ${prev + 2}`);
      }
      prev = v;
      if (v === 1000) break;
      view.setUint32(0, v + 1, true);
      await c.write(buf);
    }
    c.close();
  };
  const players = [tasks.spawn(player(a)), tasks.spawn(player(b))];
  await mustEnd(a.write(new Uint8Array(8)), waitMs, "the first ping");
  await mustEnd(Promise.all(players), 5 * waitMs, "1000 rounds of ping-pong");
}

/** A peer that writes the test stream until it fails. */
function endlessWriter(tasks: Tasks, c: ConnUnderTest): void {
  tasks.spawn(async () => {
    for (let off = 0;; off += KIB) await c.write(fillPattern(new Uint8Array(KIB), off));
  });
}

/** A peer that reads until EOF or an error; `check` sees every chunk. */
function drainer(tasks: Tasks, c: ConnUnderTest, check?: (chunk: Uint8Array) => void) {
  return tasks.spawn(async () => {
    const buf = new Uint8Array(64 * KIB);
    for (let n = await c.read(buf); n !== null; n = await c.read(buf)) check?.(buf.subarray(0, n));
  });
}

/** An echo: what `c` reads it writes back. */
function echo(tasks: Tasks, c: ConnUnderTest): void {
  tasks.spawn(() => copy(c, c));
}

const MARK = 0xee;

/**
 * Ten readers, 100 reads each, under 1 ms deadlines moved after every
 * timeout; a buffer is changed right after its read returns, and must not
 * be written after that.
 */
async function racyRead({ a, b, tasks, waitMs }: StepRun): Promise<void> {
  endlessWriter(tasks, b);
  a.setReadDeadline(Date.now() + 1);
  const reader = async () => {
    for (let j = 0; j < 100; j++) {
      const p = new Uint8Array(KIB);
      try {
        await a.read(p);
      } catch (e) {
        checkTimeout(e, "a read under a 1 ms deadline");
        p.fill(MARK);
        await sleep(0);
        if (p.some((x) => x !== MARK)) {
          throw new ConnTestFailure("a read wrote into the caller's buffer after it had timed out");
        }
        a.setReadDeadline(Date.now() + 1);
      }
    }
  };
  const readers = Array.from({ length: 10 }, () => tasks.spawn(reader));
  await mustEnd(Promise.all(readers), 5 * waitMs, "10 readers of 100 reads under 1 ms deadlines");
}

/**
 * Ten writers, 100 writes each, under 1 ms deadlines moved after every
 * timeout; a buffer is changed right after its write returns, and the peer
 * must never receive the changed bytes.
 */
async function racyWrite({ a, b, tasks, waitMs }: StepRun): Promise<void> {
  let late = false;
  const draining = drainer(tasks, b, (chunk) => late ||= chunk.includes(MARK));
  a.setWriteDeadline(Date.now() + 1);
  const writer = async () => {
    for (let j = 0; j < 100; j++) {
      const p = new Uint8Array(KIB).fill(0x11);
      try {
        await a.write(p);
      } catch (e) {
        checkTimeout(e, "a write under a 1 ms deadline");
        a.setWriteDeadline(Date.now() + 1);
      } finally {
        p.fill(MARK);
      }
    }
  };
  const writers = Array.from({ length: 10 }, () => tasks.spawn(writer));
  await mustEnd(Promise.all(writers), 5 * waitMs, "10 writers of 100 writes under 1 ms deadlines");
  a.close();
  await mustEnd(draining, waitMs, "b reading until EOF after a closed", "no EOF").catch(() => {});
  if (late) {
    throw new ConnTestFailure(
      "the peer received bytes changed in a buffer after its write returned",
    );
  }
}

/**
 * An operation one way at a passed deadline times out; one the other way
 * goes through all the same, as the peer reads (or writes) on.
 */
function timeoutLeavesOtherWay(timedOut: "read" | "write"): Step[1] {
  const other = timedOut === "read" ? "write" : "read";
  return async ({ a, b, tasks, waitMs, lateMs }) => {
    const op = (which: "read" | "write") =>
      which === "read" ? a.read(new Uint8Array(KIB)) : a.write(new Uint8Array(KIB));
    if (timedOut === "read") drainer(tasks, b);
    else endlessWriter(tasks, b);
    if (timedOut === "read") a.setReadDeadline(LONG_AGO);
    else a.setWriteDeadline(LONG_AGO);
    await mustTimeOut(
      op(timedOut),
      waitMs,
      `a ${timedOut} at a passed ${timedOut} deadline`,
      dueIn(0, lateMs),
    );
    const what = `a ${other} after a ${timedOut} timed out`;
    await mustEnd(op(other), waitMs, what)
      .catch((e) => fail(`${what} failed: ${describeError(e)}`));
  };
}

/** Deadlines in the past fail new reads and writes at once, with nothing moved. */
async function pastDeadline({ a, b, tasks, waitMs, lateMs }: StepRun): Promise<void> {
  echo(tasks, b);
  await roundtrip(a, waitMs, "before the deadline");
  a.setDeadline(LONG_AGO);
  const w = await mustTimeOut(
    a.write(new Uint8Array(KIB)),
    waitMs,
    "a write at a passed deadline",
    dueIn(0, lateMs),
  );
  const written = (w as { bytesWritten?: unknown }).bytesWritten;
  if (typeof written === "number" && written !== 0) {
    fail(`a write at a passed deadline reports bytesWritten ${written}, want 0`);
  }
  await mustTimeOut(
    a.read(new Uint8Array(KIB)),
    waitMs,
    "a read at a passed deadline",
    dueIn(0, lateMs),
  );
  await roundtrip(a, waitMs, "after the deadline was cleared");
}

/** A deadline set in the past while a read and a write wait ends both, and not before. */
async function presentDeadline({ a, tasks, waitMs, lateMs }: StepRun): Promise<void> {
  const set: { due?: Due } = {}; // when the deadline was set in the past
  const reading = tasks.spawn(async () => {
    const what = "a read waiting when its deadline was set in the past";
    await mustTimeOut(a.read(new Uint8Array(KIB)), 50 + waitMs, what);
    if (set.due === undefined) fail("a read timed out before its deadline was set");
    checkLate(set.due, what);
  });
  const writing = tasks.spawn(async () => {
    for (;;) {
      try {
        await a.write(new Uint8Array(KIB));
      } catch (e) {
        const what = "a write waiting when its deadline was set in the past";
        checkTimeout(e, what);
        if (set.due === undefined) fail("a write timed out before its deadline was set");
        checkLate(set.due, what);
        return;
      }
    }
  });
  await sleep(50);
  set.due = dueIn(0, lateMs);
  a.setReadDeadline(LONG_AGO);
  a.setWriteDeadline(LONG_AGO);
  await mustEnd(reading, waitMs, "a read waiting when its deadline was set in the past");
  await mustEnd(
    writing,
    waitMs,
    "a write waiting when its deadline was set in the past",
    "the deadline did not end it",
  );
}

/** A deadline 50 ms ahead ends a waiting read and write; then the conn works again. */
async function futureDeadline({ a, b, tasks, waitMs, lateMs }: StepRun): Promise<void> {
  const due = dueIn(50, lateMs);
  a.setDeadline(due.at);
  const reading = tasks.spawn(() =>
    mustTimeOut(
      a.read(new Uint8Array(KIB)),
      50 + waitMs,
      "a read waiting for a deadline 50 ms ahead",
      due,
    )
  );
  const writing = tasks.spawn(async () => {
    for (;;) {
      const e = await a.write(new Uint8Array(KIB)).then(() => undefined, (e) => ({ e }));
      if (e === undefined) continue;
      const what = "a write waiting for a deadline 50 ms ahead";
      checkTimeout(e.e, what);
      return checkLate(due, what);
    }
  });
  await reading;
  await mustEnd(
    writing,
    50 + waitMs,
    "writes until a deadline 50 ms ahead",
    "the deadline did not end them",
  );
  echo(tasks, b);
  await resync(a, waitMs);
  await roundtrip(a, waitMs, "after the deadline was cleared");
}

/**
 * Close ends a read and a write that wait, with an error; reads and writes
 * called after close fail too.
 */
async function closeWhileWaiting({ a, b, tasks, waitMs }: StepRun): Promise<void> {
  echo(tasks, b);
  a.setDeadline(null);
  let closed = false;
  const loop = (name: string, op: () => Promise<unknown>) =>
    tasks.spawn(async () => {
      for (;;) {
        const before = closed;
        let result: unknown;
        try {
          result = await op();
        } catch {
          return;
        }
        if (result === null && name === "read") return;
        if (before) {
          fail(`a ${name} called after close resolved with ${String(result)}; want an error`);
        }
      }
    });
  const buf = new Uint8Array(KIB);
  const reads = loop("read", () => a.read(buf));
  const writes = loop("write", () => a.write(new Uint8Array(KIB)));
  await sleep(50);
  a.close();
  closed = true;
  await mustEnd(reads, waitMs, "a read pending when the conn closed", "close left it hanging");
  await mustEnd(writes, waitMs, "a write pending when the conn closed", "close left it hanging");
}

/** Reads, writes, deadlines and addresses called all at once, 100 times over; then it works. */
async function everyMethod({ a, b, tasks, waitMs }: StepRun): Promise<void> {
  echo(tasks, b);
  const ops: Promise<unknown>[] = [];
  const calls: [string, () => void][] = [
    ["read", () => ops.push(a.read(new Uint8Array(KIB)))],
    ["write", () => ops.push(a.write(new Uint8Array(KIB)))],
    ["setDeadline", () => a.setDeadline(Date.now() + 10)],
    ["setReadDeadline", () => a.setReadDeadline(LONG_AGO)],
    ["setWriteDeadline", () => a.setWriteDeadline(LONG_AGO)],
    ["localAddr", () => void a.localAddr],
    ["remoteAddr", () => void a.remoteAddr],
  ];
  let seed = 1;
  for (let i = 0; i < 100; i++) {
    for (let k = calls.length - 1; k > 0; k--) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const j = seed % (k + 1);
      [calls[k], calls[j]] = [calls[j]!, calls[k]!];
    }
    for (const [name, call] of calls) {
      try {
        call();
      } catch (e) {
        fail(`${name} threw while other calls were pending: ${describeError(e)}`);
      }
    }
  }
  await mustEnd(
    Promise.allSettled(ops),
    10 + waitMs,
    "reads and writes under deadlines of 10 ms or less",
  );
  await resync(a, waitMs);
  await roundtrip(a, waitMs, "after every method at once");
}

/** Writes a message to an echoing peer and reads it back. */
async function roundtrip(c: ConnUnderTest, waitMs: number, when: string): Promise<void> {
  c.setDeadline(null);
  const text = "Hello, world!";
  const sent = new TextEncoder().encode(text);
  try {
    await mustEnd(c.write(sent), waitMs, `a write ${when}`);
    const back = await mustEnd(readFull(c, sent.length), waitMs, `a read ${when}`);
    const got = back === null ? "EOF" : JSON.stringify(new TextDecoder().decode(back));
    if (got !== JSON.stringify(text)) {
      fail(`a round trip ${when} read ${got}, want ${JSON.stringify(text)}`);
    }
  } catch (e) {
    if (e instanceof ConnTestFailure) throw e;
    fail(`a round trip ${when} failed: ${describeError(e)}`);
  }
}

/** Reads from an echoing peer until a 0xff written now comes back: the stream is in step again. */
async function resync(c: ConnUnderTest, waitMs: number): Promise<void> {
  c.setDeadline(null);
  const writing = c.write(new Uint8Array([0xff]));
  writing.catch(() => {});
  const buf = new Uint8Array(KIB);
  const reading = (async () => {
    for (;;) {
      const n = await c.read(buf);
      if (n === null) fail("EOF while reading back what was written before");
      if (n > 0 && buf.indexOf(0xff) === n - 1) return;
    }
  })();
  await mustEnd(
    reading,
    5 * waitMs,
    "reading back what was written before the deadline was cleared",
  );
  await mustEnd(writing, waitMs, "a write after the deadline was cleared");
}

function fail(message: string): never {
  throw new ConnTestFailure(message);
}

/** Go's behaviours, in Go's order. */
export const goSteps: Step[] = [
  ["basic I/O", basicIo],
  ["ping-pong", pingPong],
  ["racy reads under 1 ms deadlines", racyRead],
  ["racy writes under 1 ms deadlines", racyWrite],
  ["a read timeout leaves writes alone", timeoutLeavesOtherWay("read")],
  ["a write timeout leaves reads alone", timeoutLeavesOtherWay("write")],
  ["a past deadline fails new reads and writes", pastDeadline],
  ["a deadline set in the past ends waiting reads and writes", presentDeadline],
  ["a future deadline ends waiting reads and writes", futureDeadline],
  ["close ends waiting reads and writes", closeWhileWaiting],
  ["every method at once", everyMethod],
];
