import assert from "node:assert/strict";
import { ClosedError, NetError, pipe, PipeConn, TimeoutError } from "../mod.ts";
import { mustNotSettle, mustReject, mustSettle } from "../_kit/wait.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("pipe: ends are PipeConns of network pipe, with addresses that print as pipe and no TCP or TLS methods", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  assert.equal(a.network, "pipe");
  assert.equal(b.network, "pipe");
  assert.equal(String(a.localAddr), "pipe");
  assert.equal(`${b.remoteAddr}`, "pipe");
  assert.equal((a.localAddr as unknown as { transport: string }).transport, "pipe");
  assert.equal(Deno.inspect(a.remoteAddr), "pipe");
  assert.ok(a instanceof PipeConn && b instanceof PipeConn);
  for (const method of ["setNoDelay", "setLinger", "socketOptions", "handshake", "startTls"]) {
    assert.equal(method in a, false, method);
  }
});

Deno.test("pipe: a write resolves only once the other end has read all of it", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  const p = new Uint8Array(5000).fill(9);
  const writing = a.write(p);
  await mustNotSettle(writing, 50, "a write nobody reads");
  // A read of 1 byte takes up to 2 KiB into b's buffer: the write goes on waiting.
  const one = new Uint8Array(1);
  assert.equal(await b.read(one), 1);
  await mustNotSettle(writing, 20, "a write read in part");
  const rest = new Uint8Array(5000);
  let got = 1;
  while (got < 5000) got += (await b.read(rest.subarray(0, 5000 - got)))!;
  assert.equal(await mustSettle(writing, 1000, "a write read in full"), 5000);
  assert.equal(a.stats().bytesWritten, 5000);
  assert.equal(b.stats().bytesRead, 5000);
});

Deno.test("pipe: full duplex, both ways at once", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  const bufA = new Uint8Array(8);
  const bufB = new Uint8Array(8);
  const [, , na, nb] = await Promise.all([
    a.write(enc("to b")),
    b.write(enc("to a!")),
    a.read(bufA),
    b.read(bufB),
  ]);
  assert.equal(new TextDecoder().decode(bufA.subarray(0, na!)), "to a!");
  assert.equal(new TextDecoder().decode(bufB.subarray(0, nb!)), "to b");
});

Deno.test("pipe: close: the peer reads EOF and its writes fail; own operations fail closed", async () => {
  const [a, b] = pipe();
  const pendingRead = a.read(new Uint8Array(4));
  const peerRead = b.read(new Uint8Array(4));
  a.close();
  await mustReject(pendingRead, ClosedError, 1000, "a read pending at close");
  assert.equal(await mustSettle(peerRead, 1000, "the peer's pending read"), null);
  const [c, d] = pipe();
  const pendingWrite = d.write(enc("never read"));
  c.close();
  const broken = await mustReject(pendingWrite, NetError, 1000, "the peer's pending write");
  assert.equal(broken.kind, "broken-pipe");
  d.close();
  assert.equal(await b.read(new Uint8Array(4)), null);
  assert.equal((await b.write(enc("x")).catch((e) => e)).kind, "broken-pipe");
  await assert.rejects(a.write(enc("x")), ClosedError);
  a.close(); // twice: nothing
  await b[Symbol.asyncDispose]();
});

Deno.test("pipe: closeWrite: the other end reads EOF and can still send", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  const reading = b.read(new Uint8Array(8));
  await a.write(enc("last"));
  await a.closeWrite();
  assert.equal(await reading, 4);
  assert.equal(await b.read(new Uint8Array(8)), null);
  const back = new Uint8Array(8);
  const [, n] = await Promise.all([b.write(enc("reply")), a.read(back)]);
  assert.equal(n, 5);
  assert.equal((await a.write(enc("x")).catch((e) => e)).kind, "broken-pipe");
});

Deno.test("pipe: deadlines: a waiting read times out, the conn stays usable, nothing is lost", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  const buf = new Uint8Array(8);
  a.setReadDeadline(Date.now() + 60_000);
  const reading = a.read(buf);
  await mustNotSettle(reading, 20, "a read with a far deadline");
  a.setReadDeadline(Date.now() - 1); // moved into the past while the read waits
  await mustReject(reading, TimeoutError, 1000, "a read whose deadline passed");
  a.setReadDeadline(null);
  // The runtime read the deadline left behind takes b's bytes; the next read returns them.
  await b.write(enc("kept"));
  assert.equal(await a.read(buf), 4);
  assert.equal(new TextDecoder().decode(buf.subarray(0, 4)), "kept");
});

Deno.test("pipe: a write a deadline ends before the reader came is stranded: settled gives its count", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  a.setWriteDeadline(Date.now() + 20);
  const err = await mustReject(
    a.write(new Uint8Array(10_000)),
    TimeoutError,
    1000,
    "a write nobody reads",
  );
  assert.equal(err.bytesWritten, 0);
  assert.ok(err.settled instanceof Promise);
  const buf = new Uint8Array(4096);
  const n = await b.read(buf); // takes part of the stranded write
  assert.equal(await err.settled, n);
  a.setWriteDeadline(null);
  b.setReadDeadline(Date.now() + 20);
  await assert.rejects(b.read(buf), TimeoutError); // the rest never comes
});

Deno.test("pipe: a busy loop over a pipe still lets a deadline fire", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  const echo = b.readable.pipeTo(b.writable).catch(() => {});
  const buf = new Uint8Array(16);
  a.setDeadline(Date.now() + 30);
  let rounds = 0;
  const err = await (async () => {
    for (;;) {
      try {
        await a.write(buf);
        await a.read(buf);
        rounds++;
      } catch (e) {
        return e;
      }
    }
  })();
  assert.ok(err instanceof TimeoutError, String(err));
  assert.ok(rounds > 0);
  a.close();
  await echo;
});

Deno.test("pipe: streams and await using", async () => {
  const [a, b] = pipe();
  {
    await using client = a;
    const writer = client.writable.getWriter();
    const sent = writer.write(enc("streamed")).then(() => writer.close());
    const reader = b.readable.getReader();
    const chunk = await reader.read();
    assert.equal(new TextDecoder().decode(chunk.value), "streamed");
    await sent;
    assert.equal((await reader.read()).done, true); // closeWrite → EOF
    reader.releaseLock();
  }
  await assert.rejects(a.read(new Uint8Array(1)), ClosedError);
  b.close();
});
