/**
 * The article's close cases: reading and writing after this side closed,
 * closing twice, and reading and writing after the peer closed.
 *
 * @module
 */

import { ClosedError, type Conn } from "../mod.ts";
import type { GoResult } from "./_go.ts";
import type { Agreement, Experiment, Lab, Outcome } from "./_lab.ts";
import { describe, kindOf } from "./_cells.ts";
import { delay, failure } from "../_kit/wait.ts";
import { agreement, same, sameError } from "./_agree.ts";

const CLOSED_TEXT = "use of closed network connection";

function isClosed(e: unknown): boolean {
  return e instanceof ClosedError && e.message.includes(CLOSED_TEXT);
}

/** Read and write after our own close, and a read that was pending at close. */
export const ownClose: Experiment = {
  name: "close: own side",
  go: `Read and Write fail: "${CLOSED_TEXT}"`,
  goCase: "close-own",
  compare: (go, ours) =>
    agreement(same("closed errors", go.numbers.closedErrors, ours.numbers.closedErrors)),
  async run(lab: Lab): Promise<Outcome> {
    const { client } = await lab.pair();
    const pending = failure(client.read(new Uint8Array(32)));
    client.close();
    const pendingError = await pending;
    const readError = await failure(client.read(new Uint8Array(32)));
    const writeError = await failure(client.write(new Uint8Array(32)));

    const raw = await lab.rawPair();
    raw.client.close();
    const rawError = await failure(raw.client.read(new Uint8Array(32)));
    const all = [pendingError, readError, writeError];
    return {
      netconn: `pending read, read, write → ${describe(readError)} "${CLOSED_TEXT}"`,
      raw: `read → ${describe(rawError)}`,
      numbers: { closedErrors: all.filter(isClosed).length, ops: all.length },
      ok: all.every(isClosed),
    };
  },
};

/** close() twice: the second does nothing. */
export const closeTwice: Experiment = {
  name: "close: twice",
  go: "second Close returns an error; nothing breaks",
  goCase: "close-twice",
  // Whether the second close fails is the decision's; the row shows it side by side.
  compare: (go, ours) =>
    agreement([true, `second close fails: Go ${go.numbers.threw}, netconn ${ours.numbers.threw}`]),
  decision: (ours, go) =>
    (go?.numbers.threw ?? 1) === ours.numbers.threw
      ? undefined
      : "close() is idempotent: a second close() returns quietly, where Go returns an error " +
        "and Deno throws (docs/decisions.md)",
  async run(lab: Lab): Promise<Outcome> {
    const { client } = await lab.pair();
    client.close();
    let error: unknown;
    try {
      client.close();
    } catch (e) {
      error = e;
    }
    const raw = await lab.rawPair();
    raw.client.close();
    let rawError: unknown;
    try {
      raw.client.close();
    } catch (e) {
      rawError = e;
    }
    return {
      netconn: error === undefined ? "second close() returns quietly" : `throws ${describe(error)}`,
      raw: rawError === undefined ? "second close() returns" : `throws ${describe(rawError)}`,
      numbers: { threw: error === undefined ? 0 : 1, rawThrew: rawError === undefined ? 0 : 1 },
      ok: error === undefined,
    };
  },
};

/**
 * The peer closes: reads give EOF; the first write still succeeds (it only
 * reaches our socket buffer), the peer answers it with RST and a later write
 * fails with a broken pipe or reset.
 */
export const peerClose: Experiment = {
  name: "close: peer side",
  go: "Read: EOF; first Write succeeds; later ones: broken pipe",
  goCase: "close-peer",
  compare: comparePeerClose,
  async run(lab: Lab): Promise<Outcome> {
    const { client, server } = await lab.pair();
    server.close();
    return await writeAfterPeerClose(client);
  },
};

/** Reads `client` (EOF once the peer closed), then writes 10 bytes every 5 ms until one fails. */
export async function writeAfterPeerClose(client: Conn, who = ""): Promise<Outcome> {
  const eof = await client.read(new Uint8Array(32));
  const p = new Uint8Array(10);
  let ok = 0;
  let error: unknown;
  for (let i = 0; i < 100 && error === undefined; i++) {
    try {
      await client.write(p);
      ok++;
    } catch (e) {
      error = e;
    }
    await delay(5); // let the peer's RST arrive
  }
  const kind = kindOf(error);
  return {
    netconn: `${who}read → ${eof}; ${ok} write(s) of 10 bytes succeeded, then ${describe(error)}`,
    numbers: { writesBeforeError: ok, eof: eof === null ? 1 : 0 },
    facts: { error: kind },
    ok: eof === null && ok >= 1 && (kind === "broken-pipe" || kind === "reset"),
  };
}

/** Peer-close rows agree when both read EOF, then a write succeeded and a later one failed alike. */
export function comparePeerClose(go: GoResult, ours: Outcome): Agreement {
  return agreement(
    same("EOF", go.numbers.eof, ours.numbers.eof),
    same(
      "a write succeeded",
      Math.min(go.numbers.writesBeforeError ?? 0, 1),
      Math.min(ours.numbers.writesBeforeError ?? 0, 1),
    ),
    sameError(go.facts?.error, ours.facts?.error),
  );
}

/** The close rows, in the article's order. */
export const closeExperiments: Experiment[] = [ownClose, closeTwice, peerClose];
