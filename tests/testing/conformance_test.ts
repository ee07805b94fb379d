// testConn, the conformance suite of @netconn/netconn/testing, over every
// transport netconn has: TCP on loopback, pipe(), TLS (listenTls and
// dialTls with the test certificates) and unix sockets in a temp dir.

import { type Conn, dial, dialTls, listen, type Listener, listenTls, pipe } from "../../mod.ts";
import { type MakePipe, testConn } from "../../testing/mod.ts";
import { certifiedKey, certText } from "../_tls_peers.ts";

/** Dials and accepts on `ln`; stop closes both conns and the listener, then `cleanup`. */
async function connected(
  ln: Listener<Conn>,
  connect: () => Promise<Conn>,
  cleanup: () => Promise<void> = () => Promise.resolve(),
): ReturnType<MakePipe> {
  try {
    const [a, b] = await Promise.all([connect(), ln.accept()]);
    return [a, b, async () => {
      await a[Symbol.asyncDispose]();
      await b[Symbol.asyncDispose]();
      await ln[Symbol.asyncDispose]();
      await cleanup();
    }];
  } catch (e) {
    await ln[Symbol.asyncDispose]();
    await cleanup();
    throw e;
  }
}

Deno.test("conformance: TCP on loopback", async (t) => {
  await testConn(t, () => {
    const ln = listen("127.0.0.1:0");
    return connected(ln, () => dial(ln.addr));
  });
});

Deno.test("conformance: pipe()", async (t) => {
  await testConn(t, () => {
    const [a, b] = pipe();
    return Promise.resolve([a, b, async () => {
      await a[Symbol.asyncDispose]();
      await b[Symbol.asyncDispose]();
    }]);
  });
});

Deno.test("conformance: TLS", async (t) => {
  const ca = certText("ca.pem");
  await testConn(t, () => {
    const ln = listenTls("127.0.0.1:0", certifiedKey("server"));
    return connected(ln, () => dialTls(ln.addr, { hostname: "localhost", caCerts: [ca] }));
  });
});

Deno.test("conformance: unix sockets", async (t) => {
  await testConn(t, async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/conn.sock`;
    const ln = listen({ transport: "unix", path });
    return connected(
      ln as unknown as Listener<Conn>,
      () => dial({ transport: "unix", path }) as unknown as Promise<Conn>,
      () => Deno.remove(dir, { recursive: true }),
    );
  });
});
