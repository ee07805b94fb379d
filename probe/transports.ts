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

import { type Conn, dial, dialTls, listen, listenTls } from "../mod.ts";
import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { fillWithDeadlines, timeoutRow } from "./write.ts";
import { writeAfterPeerClose } from "./close.ts";

const CERTS = new URL("../tests/certs/", import.meta.url);

/** A connected TLS pair: `client` dialled with verification, `server` accepted. */
async function tlsPair(lab: Lab): Promise<{ client: Conn; server: Conn }> {
  const read = (name: string) => Deno.readTextFileSync(new URL(name, CERTS));
  const ln = listenTls("127.0.0.1:0", { cert: read("server.pem"), key: read("server.key") });
  lab.track(ln, () => ln[Symbol.asyncDispose]());
  const accepted = ln.accept();
  const client = await dialTls(ln.addr, { hostname: "localhost", caCerts: [read("ca.pem")] });
  lab.track(client, () => client[Symbol.asyncDispose]());
  const server = await accepted;
  lab.track(server, () => server[Symbol.asyncDispose]());
  await server.handshake();
  return { client, server };
}

/** A connected unix-socket pair in a temp dir, removed with the lab. */
async function unixPair(lab: Lab): Promise<{ client: Conn; server: Conn }> {
  const dir = Deno.makeTempDirSync({ prefix: "netconn-probe-" });
  lab.track(dir, () => Deno.removeSync(dir, { recursive: true }));
  const path = `${dir}/probe.sock`;
  const ln = listen({ transport: "unix", path });
  lab.track(ln, () => ln[Symbol.asyncDispose]());
  const accepted = ln.accept();
  const client = await dial({ transport: "unix", path });
  lab.track(client, () => client[Symbol.asyncDispose]());
  const server = await accepted;
  lab.track(server, () => server[Symbol.asyncDispose]());
  // A unix conn is a Conn at run time; only its type leaves out the TCP options.
  return { client: client as unknown as Conn, server: server as unknown as Conn };
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
