// The openssl peers of _tls_peers.ts against raw Deno TLS: a dialled conn to
// s_server, a Deno listener accepting s_client, ALPN both ways, and a client
// certificate presented to an s_server that asks for one.

import assert from "node:assert/strict";
import { readText, startSClient, startSServer, startStartTlsPeer } from "./_tls_peers.ts";
import { certifiedKey, certText } from "../_kit/certs.ts";
import { needs } from "./_helpers.ts";

const encoder = new TextEncoder();
const caCerts = [certText("ca.pem")];

Deno.test("tls peers: Deno.connectTls talks to s_server, both ways", needs("openssl"), async () => {
  await using server = await startSServer();
  using conn = await Deno.connectTls({ hostname: "localhost", port: server.port, caCerts });
  assert.deepEqual({ ...await conn.handshake() }, { alpnProtocol: null });
  await conn.write(encoder.encode("ping from deno\n"));
  await server.waitFor("ping from deno\n");
  await server.send("pong from s_server\n");
  assert.equal(await readText(conn, 19), "pong from s_server\n");
});

Deno.test("tls peers: Deno.listenTls accepts s_client, both ways", needs("openssl"), async () => {
  using ln = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...certifiedKey("server") });
  await using client = await startSClient({ port: ln.addr.port });
  using conn = await ln.accept();
  await conn.handshake();
  await client.waitFor("Verify return code: 0 (ok)");
  await conn.write(encoder.encode("ping from deno\n"));
  await client.waitFor("ping from deno\n");
  await client.send("pong from s_client\n");
  assert.equal(await readText(conn, 19), "pong from s_client\n");
});

Deno.test(
  "tls peers: ALPN negotiated with s_server and with s_client",
  needs("openssl"),
  async () => {
    {
      await using server = await startSServer({ alpn: ["x-other", "x-netconn"] });
      using conn = await Deno.connectTls({
        hostname: "localhost",
        port: server.port,
        caCerts,
        alpnProtocols: ["x-netconn"],
      });
      assert.equal((await conn.handshake()).alpnProtocol, "x-netconn");
      await server.waitFor("ALPN protocols selected: x-netconn");
    }
    {
      using ln = Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        alpnProtocols: ["x-netconn"],
        ...certifiedKey("server"),
      });
      await using client = await startSClient({ port: ln.addr.port, alpn: ["x-netconn"] });
      using conn = await ln.accept();
      assert.equal((await conn.handshake()).alpnProtocol, "x-netconn");
      await client.waitFor("ALPN protocol: x-netconn");
    }
  },
);

Deno.test(
  "tls peers: a client certificate presented to an s_server that asks for one",
  needs("openssl"),
  async () => {
    await using server = await startSServer({ requireClientCert: true });
    using conn = await Deno.connectTls({
      hostname: "localhost",
      port: server.port,
      caCerts,
      ...certifiedKey("client"),
    });
    await conn.handshake();
    await conn.write(encoder.encode("with cert\n"));
    await server.waitFor("with cert\n");
    assert.match(server.stdout, /subject=O = netconn tests, CN = netconn test client/);
  },
);

Deno.test(
  "tls peers: s_server that asks for a client certificate refuses a conn without one",
  needs("openssl"),
  async () => {
    await using server = await startSServer({ requireClientCert: true });
    using conn = await Deno.connectTls({ hostname: "localhost", port: server.port, caCerts });
    // TLS 1.3: the client's handshake ends before the server has judged the
    // (missing) certificate; the refusal arrives as an alert on the first read.
    await conn.handshake();
    await assert.rejects(conn.read(new Uint8Array(16)));
    await server.status;
    assert.match(server.stderr + server.stdout, /peer did not return a certificate/);
  },
);

Deno.test(
  "tls peers: STARTTLS through a plaintext prelude handed over to s_server",
  needs("openssl"),
  async () => {
    await using peer = await startStartTlsPeer(async (conn) => {
      await conn.write(encoder.encode("220 ready\r\n"));
      assert.equal(await readText(conn, 10), "STARTTLS\r\n");
      await conn.write(encoder.encode("220 go ahead\r\n"));
    });
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: peer.port });
    try {
      assert.equal(await readText(tcp, 11), "220 ready\r\n");
      await tcp.write(encoder.encode("STARTTLS\r\n"));
      assert.equal(await readText(tcp, 14), "220 go ahead\r\n");
    } catch (e) {
      tcp.close();
      throw e;
    }
    // Deno.startTls consumes tcp: from here only conn is closed.
    const conn = await Deno.startTls(tcp, { hostname: "localhost", caCerts });
    try {
      await conn.handshake();
      await conn.write(encoder.encode("over tls\n"));
      await peer.server.waitFor("over tls\n");
    } finally {
      conn.close();
    }
    await peer.done;
  },
);
