// Connection set-up, netconn against raw Deno:
//
//   deno bench --allow-net --allow-ffi bench/dial_bench.ts
//
// - dial + close: 100 dials in a row per iteration, each closed at once,
//   against a raw listener that accepts and closes; the iteration waits
//   until the listener has accepted all 100. netconn's `dial` applies Go's
//   defaults (NoDelay; keepalive 15 s / 15 s / 9, set through FFI when
//   --allow-ffi is given); a variant with keepalive off shows what they cost.
// - accept: 100 conns dialed by raw Deno wait in the listener's backlog;
//   the timed part accepts and closes all of them, checking each is one of
//   the dialed conns. netconn's `listen` applies the same defaults; again a
//   variant with keepalive off shows their cost.

import {
  acceptAll,
  AcceptAndClose,
  type AcceptSide,
  closeBacklog,
  connDial,
  connDialNoKeepAlive,
  connListener,
  dialClose,
  type Dialer,
  fillBacklog,
  rawDial,
  rawListener,
} from "./_dial.ts";

const DIALS = 100;
const ACCEPTS = 100;

const server = new AcceptAndClose();

const dialers: { name: string; dial: Dialer; baseline?: boolean }[] = [
  { name: "raw Deno.connect", dial: rawDial, baseline: true },
  { name: "netconn dial", dial: connDial },
  { name: "netconn dial, keepAlive: false", dial: connDialNoKeepAlive },
];

for (const d of dialers) {
  Deno.bench({
    name: d.name,
    group: `dial + close, ${DIALS} in a row`,
    baseline: d.baseline ?? false,
    n: 20,
    warmup: 3,
    async fn() {
      await dialClose(d.dial, server, DIALS);
    },
  });
}

const listeners: { name: string; side: AcceptSide; baseline?: boolean }[] = [
  { name: "raw Deno.listen accept", side: rawListener(), baseline: true },
  { name: "netconn listen accept", side: connListener() },
  { name: "netconn listen accept, keepAlive: false", side: connListener({ keepAlive: false }) },
];

for (const l of listeners) {
  Deno.bench({
    name: l.name,
    group: `accept ${ACCEPTS} waiting conns`,
    baseline: l.baseline ?? false,
    n: 20,
    warmup: 3,
    async fn(b) {
      const backlog = await fillBacklog(l.side.port, ACCEPTS);
      try {
        b.start();
        await acceptAll(l.side, backlog);
        b.end();
      } finally {
        closeBacklog(backlog);
      }
    },
  });
}

globalThis.addEventListener("unload", () => {
  for (const l of listeners) l.side.close();
  void server.close();
});
