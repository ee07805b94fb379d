/**
 * The article's write-blocking, write-timeout and peer-close cases over TLS
 * and over a unix socket, through the same netconn Conn, each beside the same
 * case over Go's `tls.Conn` (the repository's test certificates) and
 * `net.UnixConn`: how many bytes each transport takes before a write blocks,
 * and that the contract holds. The same outcome gets the same verdict as
 * over TCP.
 *
 * @module
 */

import type { Conn } from "../mod.ts";
import { tlsPair as kitTlsPair, unixPair as kitUnixPair } from "../_kit/loopback.ts";
import type { Agreement, Experiment, Lab, Outcome } from "./_lab.ts";
import type { GoResult } from "./_go.ts";
import {
  compareBlocking,
  compareTimeout,
  fillWithDeadlines,
  strandedWrite,
  timeoutRow,
} from "./write.ts";
import { comparePeerClose, writeAfterPeerClose } from "./close.ts";
import { bytes } from "./_cells.ts";

/** A connected TLS pair (the kit's), closed with the lab; handshaken. */
async function tlsPair(lab: Lab): Promise<{ client: Conn; server: Conn }> {
  const p = await kitTlsPair({ signal: lab.signal, dial: { signal: lab.signal } });
  lab.track(p, async () => await p[Symbol.asyncDispose]());
  await p.server.handshake();
  return p;
}

/** A connected unix-socket pair (the kit's) in a temp dir, removed with the lab. */
async function unixPair(lab: Lab): Promise<{ client: Conn; server: Conn }> {
  const p = await kitUnixPair({ signal: lab.signal, dial: { signal: lab.signal } });
  lab.track(p, async () => await p[Symbol.asyncDispose]());
  // A unix conn is a Conn at run time; only its type leaves out the TCP options.
  return { client: p.client as unknown as Conn, server: p.server as unknown as Conn };
}

type Pairing = (lab: Lab) => Promise<{ client: Conn; server: Conn }>;

/**
 * Timeout rows over TLS: as over TCP, except that fewer full writes on Go's
 * side are judged by {@linkcode recordDeadline} (Go's tls.Conn checks the
 * deadline record by record, while encrypting).
 */
function compareTlsTimeout(go: GoResult, ours: Outcome): Agreement {
  return compareTimeout(go, ours, true);
}

/**
 * The decision a TLS timeout row shows when Go's tls.Conn timed out after
 * fewer full writes than netconn: Go checks the deadline before each
 * record's write, so a 10 µs deadline passes while it encrypts, where
 * netconn's deadline ends only a write that waits for the socket.
 */
function recordDeadline(ours: Outcome, go: GoResult | undefined): string | undefined {
  const stranded = strandedWrite(ours, go);
  const goTotal = go?.numbers.total;
  const ourTotal = ours.numbers.total ?? 0;
  const fewer = goTotal !== undefined && goTotal < ourTotal * 0.9;
  if (!fewer) return stranded;
  const records = `Go's tls.Conn checks the deadline before each record's write, so the 10 µs ` +
    `passed while it encrypted (${bytes(goTotal)} in full writes), where netconn's deadline ` +
    `ends a write only once it waits for the socket, as over TCP (${bytes(ourTotal)}; ` +
    "docs/probe.md, Decisions)";
  return stranded === undefined ? records : `${records}; and ${stranded}`;
}

function transportRows(
  name: string,
  pairing: Pairing,
  needs: Deno.PermissionName[],
  peerClose: { go: string; firstWriteOk: boolean },
): Experiment[] {
  return [
    {
      name: `${name}: write blocking`,
      go: "Write blocks once the transport's buffers are full",
      goCase: `${name}-write-blocking`,
      compare: compareBlocking,
      needs,
      async run(lab: Lab): Promise<Outcome> {
        const { client } = await pairing(lab);
        return await fillWithDeadlines(client);
      },
    },
    {
      name: `${name}: write timeout`,
      go: "Write returns n and i/o timeout; n bytes were sent",
      goCase: `${name}-write-timeout`,
      compare: name === "tls" ? compareTlsTimeout : compareTimeout,
      decision: name === "tls" ? recordDeadline : strandedWrite,
      needs,
      async run(lab: Lab): Promise<Outcome> {
        const { client, server } = await pairing(lab);
        return await timeoutRow(client, server);
      },
    },
    {
      name: `${name}: peer close`,
      go: peerClose.go,
      goCase: `${name}-close-peer`,
      compare: comparePeerClose,
      needs,
      async run(lab: Lab): Promise<Outcome> {
        const { client, server } = await pairing(lab);
        server.close();
        const outcome = await writeAfterPeerClose(client);
        if (peerClose.firstWriteOk) return outcome;
        const { eof, writesBeforeError } = outcome.numbers;
        const kind = outcome.facts?.error;
        return {
          ...outcome,
          ok: eof === 1 && writesBeforeError === 0 && (kind === "broken-pipe" || kind === "reset"),
        };
      },
    },
  ];
}

/** The TLS and unix-socket rows. */
export const transportExperiments: readonly Experiment[] = [
  ...transportRows("tls", tlsPair, ["read"], {
    go: "Read: EOF; first Write succeeds; later ones: broken pipe",
    firstWriteOk: true,
  }),
  // A unix socket knows at once that its peer is gone: Go's first Write fails too.
  ...transportRows("unix", unixPair, ["read", "write"], {
    go: "Read: EOF; Write fails at once: broken pipe (the kernel knows the peer is gone)",
    firstWriteOk: false,
  }),
];
