// Each TLS path netconn takes, beside raw Deno.TlsConn, in one run:
//
//   deno run --allow-net --allow-read --allow-ffi bench/tls_paths.ts [--rounds=9]
//
// Paths: raw Deno.TlsConn (connectTls + listenTls, the baseline); netconn
// on Deno's own TLS (dialTls + listenTls); netconn with the server on
// node:tls (listenTls with clientAuth "require-and-verify", dialTls with a
// client certificate: mTLS), a server-side startTls (node:tls too), and a
// client on node:tls (a client certificate with another name to verify).
// Each round runs every path for a slice, in alternating order, and takes
// each ratio within the round; the table shows the median ratio over the
// rounds and the spread of the middle half. Ping-pong: 16-byte round trips,
// the client pinging, the server echoing. Bulk: 32 MiB each way in 64 KiB
// writes. Every slice checks what it received.

import { dial, dialTls, listen, listenTls, type TlsConn } from "../mod.ts";
import { bulk, connEndpoint, type Endpoint, pingPong, rawEndpoint } from "./_loopback.ts";
import { rawTlsPair } from "../_kit/loopback.ts";
import { certifiedKey, certText } from "../_kit/certs.ts";
import { quantile } from "../_kit/stats.ts";
import { markdownTable } from "../_kit/table.ts";

const ROUNDS = Number(Deno.args.find((a) => a.startsWith("--rounds="))?.slice(9) ?? 9);
const PINGS = 2000;
const BULK = 32 << 20;

const ca = certText("ca.pem");
const server = certifiedKey("server");
const client = certifiedKey("client");

interface Ends extends AsyncDisposable {
  client: Endpoint;
  server: Endpoint;
}

/** The paths, each as a maker of connected, handshaken ends. */
const PATHS: [string, () => Promise<Ends>][] = [
  ["raw Deno.TlsConn", async () => {
    const p = await rawTlsPair();
    return {
      client: rawEndpoint(p.client),
      server: rawEndpoint(p.server),
      [Symbol.asyncDispose]: () => Promise.resolve(p[Symbol.dispose]()),
    };
  }],
  ["netconn, Deno's TLS", () => netconnPair({})],
  [
    "netconn, node:tls server (mTLS)",
    () => netconnPair({ clientAuth: "require-and-verify", clientCas: ca }, client),
  ],
  ["netconn, node:tls server (startTls)", upgradedPair],
  ["netconn, node:tls client (certificate, other name)", clientCertPair],
];

/** dialTls to 127.0.0.1 verifying "localhost" with a client certificate: the client on node:tls. */
async function clientCertPair(): Promise<Ends> {
  const ln = listenTls("127.0.0.1:0", server);
  const accepted = ln.accept();
  const c = await dialTls(ln.addr, { hostname: "localhost", caCerts: [ca], ...client });
  const s = await accepted;
  await s.handshake();
  return ends(c, s, () => ln[Symbol.asyncDispose]());
}

async function netconnPair(
  options: Record<string, unknown>,
  cert: { cert?: string; key?: string } = {},
): Promise<Ends> {
  const ln = listenTls("127.0.0.1:0", { ...server, ...options });
  const accepted = ln.accept();
  const c = await dialTls(`localhost:${ln.addr.port}`, { caCerts: [ca], ...cert });
  const s = await accepted;
  await s.handshake();
  return ends(c, s, () => ln[Symbol.asyncDispose]());
}

async function upgradedPair(): Promise<Ends> {
  const ln = listen("127.0.0.1:0");
  const accepted = ln.accept();
  const plain = await dial(ln.addr);
  const peer = await accepted;
  const [c, s] = await Promise.all([
    plain.startTls({ hostname: "localhost", caCerts: [ca] }),
    peer.startTls({ isServer: true, ...server }),
  ]);
  return ends(c, s, () => ln[Symbol.asyncDispose]());
}

function ends(c: TlsConn, s: TlsConn, then: () => Promise<void>): Ends {
  return {
    client: connEndpoint(c),
    server: connEndpoint(s),
    async [Symbol.asyncDispose]() {
      await c[Symbol.asyncDispose]();
      await s[Symbol.asyncDispose]();
      await then();
    },
  };
}

type Work = [string, string, (e: Ends) => Promise<number>];
const WORK: Work[] = [
  ["ping-pong", "round trips/s", async (e) => {
    await pingPong(e.client, e.server, { rounds: PINGS, size: 16 });
    return PINGS;
  }],
  ["bulk, server to client", "MB/s", async (e) => {
    await bulk(e.server, e.client, BULK);
    return BULK / 1e6;
  }],
  ["bulk, client to server", "MB/s", async (e) => {
    await bulk(e.client, e.server, BULK);
    return BULK / 1e6;
  }],
];

const rows: string[][] = [];
for (const [work, unit, run] of WORK) {
  const rates = PATHS.map(() => [] as number[]);
  const ratios = PATHS.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    const order = PATHS.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    const roundRates: number[] = [];
    for (const i of order) {
      await using e = await PATHS[i]![1]();
      const start = performance.now();
      const amount = await run(e);
      roundRates[i] = amount / ((performance.now() - start) / 1000);
    }
    for (const [i, rate] of roundRates.entries()) {
      rates[i]!.push(rate);
      ratios[i]!.push(rate / roundRates[0]!);
    }
  }
  for (const [i, [path]] of PATHS.entries()) {
    const r = ratios[i]!.toSorted((a, b) => a - b);
    const rate = quantile(rates[i]!.toSorted((a, b) => a - b), 0.5);
    rows.push([
      work,
      path,
      `${rate.toFixed(unit === "MB/s" ? 0 : 0)} ${unit}`,
      i === 0 ? "1 (baseline)" : `${quantile(r, 0.5).toFixed(2)}×`,
      i === 0 ? "" : `${quantile(r, 0.25).toFixed(2)}–${quantile(r, 0.75).toFixed(2)}`,
    ]);
  }
}
console.log(`${ROUNDS} rounds, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs\n`);
console.log(
  markdownTable(["workload", "path", "rate (median)", "vs raw Deno.TlsConn", "middle half"], rows),
);
