/**
 * The article's write-blocking, write-timeout and peer-close cases over TLS
 * and over a unix socket, through the same netconn Conn: how many bytes
 * each transport takes before a write blocks, and that the contract holds.
 * Go is not measured here (its programs speak plain TCP); the Go column
 * says what Go documents, which is the same contract over `tls.Conn` and
 * `net.UnixConn`.
 *
 * @module
 */

import type { Conn } from "../mod.ts";
import { tlsPair as kitTlsPair, unixPair as kitUnixPair } from "../_kit/loopback.ts";
import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { fillWithDeadlines, timeoutRow } from "./write.ts";
import { writeAfterPeerClose } from "./close.ts";

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
      needs,
      async run(lab: Lab): Promise<Outcome> {
        const { client } = await pairing(lab);
        return await fillWithDeadlines(client);
      },
    },
    {
      name: `${name}: write timeout`,
      go: "Write returns n and i/o timeout; n bytes were sent",
      needs,
      async run(lab: Lab): Promise<Outcome> {
        const { client, server } = await pairing(lab);
        return await timeoutRow(client, server);
      },
    },
    {
      name: `${name}: peer close`,
      go: peerClose.go,
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
