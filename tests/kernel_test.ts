// The kernel-first path (Linux, --allow-ffi): send and recv on the caller's
// buffer first, the runtime only for what would block. It must map errno
// as the runtime does, never touch an fd after its conn closed, give the
// event loop a turn during a long synchronous run, and reset on close with
// linger 0. The contract tests run again without --allow-ffi, where every
// operation goes through the runtime.

import assert from "node:assert/strict";
import { ClosedError, dial, NetError, TimeoutError } from "../mod.ts";
import { AGAIN, KernelSocket } from "../_sys/kernel.ts";
import { sockoptSupported } from "../sockopt/mod.ts";
import { needs } from "./_helpers.ts";
import { delay, mustNotSettle, mustReject, mustSettle } from "../_kit/wait.ts";
import { pair, rawPair } from "../_kit/loopback.ts";

const linux = Deno.build.os === "linux" && sockoptSupported();
const encoder = new TextEncoder();

Deno.test({
  name: "kernel: send and recv without waiting, AGAIN when the kernel would block, null at EOF",
  ignore: !linux,
  async fn() {
    await using p = await rawPair();
    const client = KernelSocket.open(p.client)!;
    const server = KernelSocket.open(p.server)!;
    assert.ok(client !== null && server !== null, "a TCP socket's fd is found and non-blocking");
    const buf = new Uint8Array(16);
    assert.equal(server.recv(buf), AGAIN, "nothing has come");
    assert.equal(client.send(encoder.encode("hello")), 5);
    let n: number | null = AGAIN;
    for (let i = 0; i < 100 && n === AGAIN; i++) {
      n = server.recv(buf);
      if (n === AGAIN) await delay(1);
    }
    assert.equal(n, 5);
    p.client.closeWrite();
    for (n = AGAIN; n === AGAIN;) {
      n = server.recv(buf);
      if (n === AGAIN) await delay(1);
    }
    assert.equal(n, null, "EOF");
  },
});

Deno.test({
  name: "kernel: errno maps to the runtime's error classes, and to NetError kinds through a Conn",
  ignore: !linux,
  async fn() {
    await using p = await pair();
    // A reset peer: the kernel path's read fails as the runtime's would.
    await p.client.write(encoder.encode("x"));
    assert.equal(await p.server.read(new Uint8Array(1)), 1);
    p.server.setLinger(0);
    p.server.close(); // RST at once, as Go's close with linger 0
    const err = await mustReject(p.client.read(new Uint8Array(8)), NetError);
    assert.equal(err.kind, "reset");
    assert.ok(err.cause instanceof Deno.errors.ConnectionReset, String(err.cause));
    // Writing to it: broken pipe or reset, never a crash of the process (no SIGPIPE).
    const write = await p.client.write(new Uint8Array(100)).catch((e) => e);
    const kind = write instanceof NetError ? write.kind : "none";
    assert.ok(["broken-pipe", "reset", "none"].includes(kind), String(write));
  },
});

Deno.test({
  name: "kernel: linger 0 resets the peer even when it had read everything, as in Go",
  ignore: !linux,
  async fn() {
    await using p = await pair();
    await p.client.write(encoder.encode("all of it"));
    const buf = new Uint8Array(9);
    assert.equal(await p.server.read(buf), 9);
    p.client.setLinger(0);
    p.client.close();
    const err = await mustReject(p.server.read(buf), NetError);
    assert.equal(err.kind, "reset", "not EOF: Go's close with linger 0 sends RST");
  },
});

Deno.test({
  name: "kernel: a closed conn never touches its old fd, even when a new socket has its number",
  ignore: !linux,
  async fn() {
    await using p = await pair();
    const old = p.client;
    old.close();
    // The kernel hands out the lowest free fd: the next socket likely gets old's number.
    await using q = await pair();
    await mustReject(old.write(encoder.encode("stray")), ClosedError);
    await mustReject(old.read(new Uint8Array(4)), ClosedError);
    const got = new Uint8Array(8);
    const reading = q.server.read(got);
    await mustNotSettle(reading, 30, "a read on the new socket");
    await q.client.write(encoder.encode("mine"));
    const n = await mustSettle(reading, 2000, "the new socket's own bytes");
    assert.equal(new TextDecoder().decode(got.subarray(0, n!)), "mine");
  },
});

Deno.test({
  name: "kernel: a long synchronous run gives timers and other tasks their turn",
  ignore: !linux,
  async fn() {
    await using p = await pair();
    let fired = false;
    const timer = setTimeout(() => fired = true, 0);
    const msg = new Uint8Array(64);
    const buf = new Uint8Array(64);
    let rounds = 0;
    const started = performance.now();
    try {
      // Write-then-read rounds the kernel completes at once, with no wait of
      // their own: without a yield, the timer would never run.
      while (!fired && performance.now() - started < 2000) {
        await p.client.write(msg);
        for (let got = 0; got < 64;) got += (await p.server.read(buf.subarray(got)))!;
        rounds++;
      }
    } finally {
      clearTimeout(timer);
    }
    assert.ok(fired, `a 0 ms timer never ran during ${rounds} rounds`);
  },
});

Deno.test("runtime: close ends a pending runtime write, which never sends bytes changed after", async () => {
  // The premise of the copy on the runtime path (Deno 2.9.6): after close(),
  // a runtime write left pending never sends later bytes.
  await using p = await rawPair();
  const chunk = new Uint8Array(1 << 20).fill(0xaa);
  let pending: Promise<number> | undefined;
  for (let i = 0; i < 64 && pending === undefined; i++) {
    const w = p.client.write(chunk);
    const n = await Promise.race([w, delay(100).then(() => -1)]);
    if (n === -1) pending = w;
  }
  assert.ok(pending !== undefined, "a write blocks against a peer that does not read");
  const outcome = pending.then(() => "resolved", (e) => e);
  p.client.close();
  chunk.fill(0xbb); // changed after close: must never reach the peer
  const err = await mustSettle(outcome, 2000, "the pending write after close");
  assert.ok(
    err instanceof Deno.errors.Interrupted || err instanceof Deno.errors.BadResource,
    String(err),
  );
  const buf = new Uint8Array(1 << 20);
  for (let n = await p.server.read(buf); n !== null; n = await p.server.read(buf)) {
    assert.ok(!buf.subarray(0, n).includes(0xbb), "a byte changed after close was sent");
  }
});

Deno.test("runtime: the contract tests pass without --allow-ffi, every operation through the runtime", async () => {
  const files = [
    "conn_test.ts",
    "model_test.ts",
    "seed_test.ts",
    "timeout_test.ts",
    "_io/write_queue_test.ts",
    "_io/reader_test.ts",
  ]
    .map((f) => new URL(f, import.meta.url).pathname);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-prompt", "--allow-net", "--allow-read", "--allow-env", ...files],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `the contract tests failed without --allow-ffi:\n${text.slice(-3000)}`);
  assert.match(text, /ok \| \d+ passed/);
});

Deno.test({
  name: "kernel: a run of writes the kernel takes at once still gives timers their turn",
  ignore: !linux || needs("python3").ignore,
  async fn() {
    // A peer in another process that reads as fast as it can: every send
    // succeeds at once, and only the 2 ms bound makes the writer yield.
    await using peer = await pythonPeer(PY_DRAIN);
    {
      await using conn = await dial(`127.0.0.1:${peer.port}`);
      let fired = false;
      const timer = setTimeout(() => fired = true, 0);
      const msg = new Uint8Array(64);
      const started = performance.now();
      try {
        while (!fired && performance.now() - started < 2000) await conn.write(msg);
      } finally {
        clearTimeout(timer);
      }
      assert.ok(fired, "a 0 ms timer never ran during 2 s of writes");
    }
  },
});

/**
 * A python3 peer in another process, running `script`, which prints the port
 * it listens on and exits when its stdin closes: disposing closes stdin and
 * waits for the exit.
 */
async function pythonPeer(script: string): Promise<{ port: number } & AsyncDisposable> {
  const child = new Deno.Command("python3", {
    args: ["-c", script],
    stdout: "piped",
    stdin: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await lines.read()).value);
  lines.releaseLock();
  return {
    port,
    async [Symbol.asyncDispose]() {
      await child.stdin.close();
      await child.stdout.cancel().catch(() => {});
      await child.status;
    },
  };
}

const PY_DRAIN = `
import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), s.close(), __import__("os")._exit(0)), daemon=True).start()
c, _ = s.accept()
while c.recv(1 << 20):
    pass
`;

Deno.test("writes: time blocked counts a write that waited for a full socket, with or without FFI", async () => {
  await using p = await pair();
  const big = new Uint8Array(16 << 20);
  const write = p.client.write(big);
  await mustNotSettle(write, 100, "a 16 MiB write to a peer that does not read");
  const drained = (async () => {
    const buf = new Uint8Array(1 << 20);
    let got = 0;
    while (got < big.length) got += (await p.server.read(buf))!;
  })();
  assert.equal(await write, big.length);
  await drained;
  assert.ok(
    p.client.stats().writeBlockedMs >= 50,
    `writeBlockedMs ${p.client.stats().writeBlockedMs}`,
  );
});

Deno.test("deadlines: a step of the wall clock moves no deadline already set", async () => {
  await using p = await pair();
  const realNow = Date.now;
  p.server.setReadDeadline(Date.now() + 100);
  const read = p.server.read(new Uint8Array(8));
  Date.now = () => realNow() - 3000; // the wall clock steps back (NTP, a VM resumed)
  try {
    const started = performance.now();
    await mustReject(read, TimeoutError, 1500, "the read with a 100 ms deadline");
    assert.ok(performance.now() - started < 1000, "the deadline ran on the monotonic clock");
  } finally {
    Date.now = realNow;
  }
});

Deno.test({
  name: "kernel: concurrent reads stay in call order, also when a long run yields",
  ignore: !linux || needs("python3").ignore,
  async fn() {
    // A peer in another process that writes a counting pattern as fast as
    // the socket takes it: reads find data at once, run past the 2 ms bound
    // and yield; two reads issued together must get consecutive bytes.
    await using peer = await pythonPeer(PY_COUNT);
    {
      await using conn = await dial(`127.0.0.1:${peer.port}`);
      const a = new Uint8Array(1);
      const b = new Uint8Array(1);
      const started = performance.now();
      let pairs = 0;
      while (performance.now() - started < 1000) {
        await Promise.all([conn.read(a), conn.read(b)]);
        if (b[0] !== ((a[0]! + 1) & 0xff)) {
          assert.fail(`pair ${pairs}: the first read got ${a[0]}, the second ${b[0]}`);
        }
        pairs++;
      }
    }
  },
});

const PY_COUNT = `
import socket, sys, threading, os
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
c, _ = s.accept()
block = bytes(range(256)) * 256
try:
    while True:
        c.sendall(block)
except OSError:
    pass
`;
