/**
 * The article's read cases (its first half): no data, some data, more than
 * the buffer, peer closed, and a read deadline after which the conn goes on.
 *
 * @module
 */

import { TimeoutError } from "../mod.ts";
import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { describe, kindOf } from "./_cells.ts";
import { failure, settlesWithin, since } from "../_kit/wait.ts";
import { agreement, both, same, sameError } from "./_agree.ts";

const text = new TextEncoder();
const words = new TextDecoder();

/** A read with nothing to read must not return; moving the deadline into the past ends it. */
export const readNoData: Experiment = {
  name: "read: no data",
  go: "Read blocks until data, EOF or deadline",
  goCase: "read-no-data",
  compare: (go, ours) =>
    agreement(
      both("still waiting at 150 ms", go.numbers.waiting === 1, ours.numbers.waiting === 1),
      sameError(go.facts?.error, ours.facts?.error),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const { server } = await lab.pair();
    const waitMs = 150;
    const read = server.read(new Uint8Array(64));
    const settled = await settlesWithin(read, waitMs);
    const start = performance.now();
    server.setReadDeadline(Date.now() - 1); // takes effect on the pending read
    const error = await failure(read);
    const ms = since(start);
    return {
      netconn: `${settled ? "returned" : "still waiting"} after ${waitMs} ms; ` +
        `deadline moved to the past → ${describe(error)} in ${ms} ms`,
      numbers: { waitedMs: waitMs, unblockMs: ms, waiting: settled ? 0 : 1 },
      facts: { error: kindOf(error) },
      ok: !settled && error instanceof TimeoutError && ms < 50,
    };
  },
};

/** 10 bytes waiting, a 64-byte buffer: read returns the 10. */
export const readSome: Experiment = {
  name: "read: some data",
  go: "Read returns n < len(p)",
  goCase: "read-some",
  compare: (go, ours) => agreement(same("n", go.numbers.n, ours.numbers.n)),
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    await client.write(text.encode("0123456789"));
    const p = new Uint8Array(64);
    const n = await server.read(p);
    return {
      netconn: `10 bytes sent, read(64-byte buffer) → ${n}`,
      numbers: { sent: 10, bufLen: p.length, n: n ?? -1 },
      ok: n === 10 && words.decode(p.subarray(0, 10)) === "0123456789",
    };
  },
};

/** 100 bytes waiting, a 10-byte buffer: read returns 10, and the rest follows in order. */
export const readMore: Experiment = {
  name: "read: more than len(p)",
  go: "Read returns len(p); the rest stays queued",
  goCase: "read-more",
  compare: (go, ours) =>
    agreement(
      same("n", go.numbers.n, ours.numbers.n),
      same("rest", go.numbers.rest, ours.numbers.rest),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const sent = new Uint8Array(100).map((_, i) => i);
    await client.write(sent);
    const p = new Uint8Array(10);
    const n = await server.read(p);
    let rest = 0;
    let inOrder = p.every((b, i) => b === i);
    while (rest < 90) {
      const m = await server.read(p);
      if (m === null) break;
      inOrder &&= p.subarray(0, m).every((b, i) => b === 10 + rest + i);
      rest += m;
    }
    return {
      netconn: `100 bytes sent, read(10-byte buffer) → ${n}; next reads got ${rest}, in order`,
      numbers: { sent: 100, bufLen: 10, n: n ?? -1, rest },
      ok: n === 10 && rest === 90 && inOrder,
    };
  },
};

/** The peer writes 5 bytes and closes: the 5 first, then EOF (null), and EOF again. */
export const readPeerClosed: Experiment = {
  name: "read: peer closed",
  go: "Read returns the remaining data, then io.EOF",
  goCase: "read-peer-closed",
  compare: (go, ours) =>
    agreement(
      same("first read", go.numbers.first, ours.numbers.first),
      same("EOF reads", go.numbers.eofReads, ours.numbers.eofReads),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    await client.write(text.encode("hello"));
    client.close();
    const p = new Uint8Array(64);
    const first = await server.read(p);
    const data = words.decode(p.subarray(0, first ?? 0));
    const second = await server.read(p);
    const third = await server.read(p);
    return {
      netconn: `read → ${first} ("${data}"), then ${second}, then ${third}`,
      numbers: { first: first ?? -1, eofReads: [second, third].filter((x) => x === null).length },
      ok: first === 5 && data === "hello" && second === null && third === null,
    };
  },
};

/** A read times out; bytes sent afterwards arrive whole at the next read. */
export const readTimeoutContinue: Experiment = {
  name: "read timeout, then continue",
  go: "Read fails with i/o timeout; later data reaches the next Read",
  goCase: "read-timeout-continue",
  compare: (go, ours) =>
    agreement(
      both("i/o timeout", go.numbers.timeout === 1, ours.numbers.timeout === 1),
      same("next read", go.numbers.nextRead, ours.numbers.nextRead),
    ),
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    const waitMs = 50;
    const p = new Uint8Array(64);
    server.setReadDeadline(Date.now() + waitMs);
    const start = performance.now();
    const error = await failure(server.read(p));
    const ms = since(start);
    server.setReadDeadline(null);
    await client.write(text.encode("still here"));
    const n = await server.read(p);
    const data = words.decode(p.subarray(0, n ?? 0));
    const isTimeout = error instanceof TimeoutError && error.message.includes("i/o timeout");
    return {
      netconn: `${describe(error)} after ${ms} ms (deadline ${waitMs} ms); ` +
        `next read → ${n} ("${data}")`,
      numbers: { deadlineMs: waitMs, timeoutMs: ms, nextRead: n ?? -1, timeout: isTimeout ? 1 : 0 },
      ok: isTimeout && ms >= waitMs - 2 && ms < waitMs + 100 && data === "still here",
    };
  },
};

/** The read rows, in the article's order. */
export const readExperiments: Experiment[] = [
  readNoData,
  readSome,
  readMore,
  readPeerClosed,
  readTimeoutContinue,
];
