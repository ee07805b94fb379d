// Unix sockets through netconn: dial and listen with { transport: "unix",
// path }, a peer in another process (python3) both ways, Go's rules for the
// socket file (an existing path is "addr-in-use"; close removes it), the
// contract's deadlines and close, and no TCP options.

import assert from "node:assert/strict";
import { ClosedError, dial, listen, NetError, TimeoutError, UnixConn } from "../mod.ts";
import { needs } from "./_helpers.ts";
import { mustNotSettle, mustReject } from "../_kit/wait.ts";
import { readAtLeast } from "../_kit/bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A temp dir for socket files, removed on dispose. */
function tempDir(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "netconn-unix-" });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs python3 with `script`; resolves with its stdout once it exits. */
async function python(script: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("python3", { args: ["-c", script, ...args] }).output();
  const stderr = decoder.decode(out.stderr);
  assert.equal(out.code, 0, `python3 failed: ${stderr}`);
  return decoder.decode(out.stdout);
}

const PY_ECHO_SERVER = `
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
data = b""
while not data.endswith(b"\\n"):
    chunk = c.recv(4096)
    if not chunk: break
    data += chunk
c.sendall(b"echo: " + data)
c.close(); s.close(); os.unlink(path)
`;

const PY_CLIENT = `
import socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(sys.argv[1])
c.sendall(b"hello from python\\n")
data = b""
while True:
    chunk = c.recv(4096)
    if not chunk: break
    data += chunk
print(data.decode(), end="")
`;

Deno.test("unix: dial a peer in another process, both ways", needs("python3"), async () => {
  using dir = tempDir();
  const path = `${dir.path}/py.sock`;
  const child = new Deno.Command("python3", {
    args: ["-c", PY_ECHO_SERVER, path],
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.equal((await lines.read()).value?.trim(), "ready");
  lines.releaseLock();
  try {
    await using conn = await dial({ transport: "unix", path });
    assert.equal(conn.network, "unix");
    assert.equal(String(conn.remoteAddr), path);
    assert.equal(Deno.inspect(conn.remoteAddr), `unix ${path}`);
    await conn.write(encoder.encode("hi python\n"));
    assert.equal(decoder.decode(await readAtLeast(conn, 16)), "echo: hi python\n");
    assert.equal(await conn.read(new Uint8Array(1)), null, "EOF after the peer closed");
  } finally {
    await child.stdout.cancel().catch(() => {});
    await child.status;
  }
});

Deno.test(
  "unix: listen serves a client in another process; close removes the socket file",
  needs("python3"),
  async () => {
    using dir = tempDir();
    const path = `${dir.path}/ln.sock`;
    const ln = listen({ transport: "unix", path });
    assert.equal(String(ln.addr), path);
    assert.ok(exists(path));
    const client = python(PY_CLIENT, [path]);
    {
      await using conn = await ln.accept();
      assert.equal(String(conn.localAddr), path);
      assert.equal(String(conn.remoteAddr), "", "the client's end has no name");
      const got = decoder.decode(await readAtLeast(conn, 18));
      assert.equal(got, "hello from python\n");
      await conn.write(encoder.encode("hello from netconn\n"));
    }
    assert.equal(await client, "hello from netconn\n");
    await ln[Symbol.asyncDispose]();
    assert.equal(exists(path), false, "closing the listener removes the socket file");
  },
);

Deno.test("unix: listening on a path that exists is addr-in-use, as in Go", async () => {
  using dir = tempDir();
  const path = `${dir.path}/taken.sock`;
  await using ln = listen({ transport: "unix", path });
  assert.throws(
    () => listen({ transport: "unix", path }),
    (e) => e instanceof NetError && e.kind === "addr-in-use" && e.op === "listen",
  );
  Deno.writeTextFileSync(`${dir.path}/file`, "a regular file");
  assert.throws(
    () => listen({ transport: "unix", path: `${dir.path}/file` }),
    (e) => e instanceof NetError && e.kind === "addr-in-use",
  );
  assert.ok(ln.addr.path.endsWith("taken.sock"));
});

Deno.test("unix: deadlines, close, and a UnixConn without TCP options", async () => {
  using dir = tempDir();
  const path = `${dir.path}/c.sock`;
  await using ln = listen({ transport: "unix", path });
  await using client = await dial({ transport: "unix", path });
  await using server = await ln.accept();
  const waiting = server.read(new Uint8Array(8));
  await mustNotSettle(waiting, 20, "a read with no data");
  server.setReadDeadline(Date.now() - 1);
  const err = await mustReject(waiting, TimeoutError);
  assert.ok(err.message.startsWith("read unix "), err.message);
  server.setReadDeadline(null);
  await client.write(encoder.encode("after"));
  assert.equal(decoder.decode(await readAtLeast(server, 5)), "after", "nothing lost");
  // TCP options and TLS: a UnixConn has none (a type error in TypeScript).
  assert.ok(client instanceof UnixConn && server instanceof UnixConn);
  for (const method of ["setNoDelay", "socketOptions", "setLinger", "startTls", "handshake"]) {
    assert.equal(method in client, false, method);
  }
  await assert.rejects(() => dial({ transport: "unix", path }, { noDelay: true }), TypeError);
  assert.throws(
    () => listen({ transport: "unix", path: `${dir.path}/x` }, { backlog: 5 }),
    TypeError,
  );
  await assert.rejects(() => dial({ transport: "unix", path: "" }), NetError);
  client.close();
  await mustReject(client.write(new Uint8Array(1)), ClosedError);
  assert.equal(await server.read(new Uint8Array(1)), null);
});
