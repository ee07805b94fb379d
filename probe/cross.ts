/**
 * Across runtimes: a netconn client against a Go server, and a Go client
 * against a netconn server, for write blocking, the write timeout and peer
 * close. The Go column shows Go against Go (the same case run alone); the
 * netconn column what the mixed pair measured. Each row needs Go.
 *
 * @module
 */

import type { Conn } from "../mod.ts";
import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { LOOPBACK } from "../_kit/loopback.ts";
import { bytes } from "./_cells.ts";
import { drain } from "../_kit/bytes.ts";
import type { GoPeer } from "./_go.ts";
import { comparePeerClose, writeAfterPeerClose } from "./close.ts";
import {
  compareBlocking,
  compareTimeout,
  fillWithDeadlines,
  settle,
  strandedWrite,
  writeUntilTimeout,
} from "./write.ts";

/** A netconn conn dialled to a Go server case, and the server. */
async function dialGo(lab: Lab, goCase: string): Promise<{ conn: Conn; peer: GoPeer }> {
  const peer = lab.goPeer(goCase);
  const port = await peer.port();
  return { conn: await lab.dial(`${LOOPBACK}:${port}`), peer };
}

/** A netconn listener, the Go client case dialled to it, and the conn it accepted. */
async function acceptGo(lab: Lab, goCase: string): Promise<{ conn: Conn; peer: GoPeer }> {
  const ln = lab.listen();
  const peer = lab.goPeer(goCase, `${LOOPBACK}:${ln.addr.port}`);
  const conn = await ln.accept({ signal: lab.signal });
  lab.track(conn, () => conn[Symbol.asyncDispose]());
  return { conn, peer };
}

/** The Go client's measured figures, as this row's. */
function fromGo(
  text: string,
  numbers: Record<string, number>,
  facts?: Record<string, string>,
): Pick<Outcome, "netconn" | "numbers" | "facts"> {
  return { netconn: text, numbers, ...(facts === undefined ? {} : { facts }) };
}

/** netconn writes with 200 ms deadlines to a Go server that does not read. */
export const blockingToGo: Experiment = {
  name: "write blocking: netconn client → Go server",
  go: "Write blocks once both socket buffers are full",
  goCase: "write-blocking",
  compare: compareBlocking,
  needsGo: true,
  async run(lab: Lab): Promise<Outcome> {
    const { conn, peer } = await dialGo(lab, "serve-noread");
    const outcome = await fillWithDeadlines(conn, "netconn → Go: ");
    await peer.endInput();
    await peer.result();
    return outcome;
  },
};

/** A Go client writes with 200 ms deadlines to a netconn server that does not read. */
export const blockingFromGo: Experiment = {
  name: "write blocking: Go client → netconn server",
  go: "Write blocks once both socket buffers are full",
  goCase: "write-blocking",
  compare: compareBlocking,
  needsGo: true,
  async run(lab: Lab): Promise<Outcome> {
    const { peer } = await acceptGo(lab, "write-blocking-client");
    const go = await peer.result();
    const timedOut = go.facts?.error === "timeout";
    return {
      ...fromGo(`Go → netconn: ${go.text}`, go.numbers, go.facts),
      ok: go.error === undefined && timedOut && (go.numbers.accepted ?? 0) > 0,
    };
  },
};

/** netconn writes with the article's 10 µs deadlines to a Go server, which then drains. */
export const timeoutToGo: Experiment = {
  name: "write timeout: netconn client → Go server",
  go: "Write returns n and i/o timeout; n bytes were sent",
  goCase: "write-timeout",
  compare: compareTimeout,
  decision: strandedWrite,
  needsGo: true,
  async run(lab: Lab): Promise<Outcome> {
    const { conn, peer } = await dialGo(lab, "serve-drain");
    const written = await writeUntilTimeout(conn);
    await peer.endInput(); // the Go server starts reading
    if (written.error === undefined) return written.outcome;
    const final = await written.final;
    conn.close();
    const go = await peer.result();
    const received = go.numbers.received ?? -1;
    return settle(written, final, received, go.numbers.intact === 1, "netconn → Go: ");
  },
};

/** A Go client writes with 10 µs deadlines to a netconn server, which then drains. */
export const timeoutFromGo: Experiment = {
  name: "write timeout: Go client → netconn server",
  go: "Write returns n and i/o timeout; n bytes were sent",
  goCase: "write-timeout",
  compare: compareTimeout,
  needsGo: true,
  async run(lab: Lab): Promise<Outcome> {
    const { conn, peer } = await acceptGo(lab, "write-timeout-client");
    const go = await peer.result(); // the Go client has closed its conn: drain to EOF
    const got = await drain(conn, { check: true });
    const n = go.numbers;
    const counted = (n.total ?? -1) + (n.bytesWritten ?? 0);
    return {
      ...fromGo(
        `Go → netconn: ${go.text}; the netconn server read ${bytes(got.bytes)}` +
          (got.intact ? " intact" : " NOT intact"),
        { ...n, received: got.bytes, settled: n.bytesWritten ?? 0 },
        go.facts,
      ),
      ok: go.facts?.error === "timeout" && got.bytes === counted && got.intact,
    };
  },
};

/** A Go server accepts and closes at once; the netconn client reads, then writes. */
export const closeByGo: Experiment = {
  name: "peer close: Go server closes, netconn client",
  go: "Read: EOF; first Write succeeds; later ones: broken pipe",
  goCase: "close-peer",
  compare: comparePeerClose,
  needsGo: true,
  async run(lab: Lab): Promise<Outcome> {
    const { conn, peer } = await dialGo(lab, "serve-close");
    await peer.result();
    return await writeAfterPeerClose(conn, "Go closed: ");
  },
};

/** A netconn server accepts and closes at once; the Go client reads, then writes. */
export const closeByNetconn: Experiment = {
  name: "peer close: netconn server closes, Go client",
  go: "Read: EOF; first Write succeeds; later ones: broken pipe",
  goCase: "close-peer",
  compare: comparePeerClose,
  needsGo: true,
  async run(lab: Lab): Promise<Outcome> {
    const { conn, peer } = await acceptGo(lab, "close-client");
    conn.close();
    const go = await peer.result();
    const kind = go.facts?.error;
    return {
      ...fromGo(`netconn closed: Go client ${go.text}`, go.numbers, go.facts),
      ok: go.numbers.eof === 1 && (go.numbers.writesBeforeError ?? 0) >= 1 &&
        (kind === "broken-pipe" || kind === "reset"),
    };
  },
};

/** The cross-runtime rows. */
export const crossExperiments: Experiment[] = [
  blockingToGo,
  blockingFromGo,
  timeoutToGo,
  timeoutFromGo,
  closeByGo,
  closeByNetconn,
];
