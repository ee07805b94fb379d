// testConn, the conformance suite of @netconn/netconn/testing, over every
// transport netconn has: TCP on loopback, pipe(), TLS (listenTls and
// dialTls with the test certificates) and unix sockets in a temp dir.

import { type ConnUnderTest, type MakePipe, testConn } from "../../testing/mod.ts";
import { type Ends, pair, pipePair, tlsPair, unixPair } from "../../_kit/loopback.ts";

/** A MakePipe over a kit pair: its two ends, and disposing it as stop. */
function ends(make: () => Promise<Ends<ConnUnderTest>> | Ends<ConnUnderTest>): MakePipe {
  return async () => {
    const p = await make();
    return [p.client, p.server, async () => await p[Symbol.asyncDispose]()];
  };
}

Deno.test("conformance: TCP on loopback", async (t) => {
  await testConn(t, ends(() => pair()));
});

Deno.test("conformance: pipe()", async (t) => {
  await testConn(t, ends(pipePair));
});

Deno.test("conformance: TLS", async (t) => {
  await testConn(t, ends(() => tlsPair()));
});

Deno.test("conformance: unix sockets", async (t) => {
  await testConn(t, ends(() => unixPair()));
});
