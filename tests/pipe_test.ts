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
  // A read of 1 byte takes 1 byte: the write goes on waiting for the rest.
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

Deno.test("pipe: deadlines: a waiting read times out having taken nothing, the conn stays usable", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  const buf = new Uint8Array(8);
  a.setReadDeadline(Date.now() + 60_000);
  const reading = a.read(buf);
  await mustNotSettle(reading, 20, "a read with a far deadline");
  a.setReadDeadline(Date.now() - 1); // moved into the past while the read waits
  await mustReject(reading, TimeoutError, 1000, "a read whose deadline passed");
  // Nothing reads now: a write waits, as in Go; the next read takes its bytes.
  const writing = b.write(enc("kept"));
  await mustNotSettle(writing, 20, "a write after the only read timed out");
  a.setReadDeadline(null);
  assert.equal(await a.read(buf), 4);
  assert.equal(new TextDecoder().decode(buf.subarray(0, 4)), "kept");
  assert.equal(await mustSettle(writing, 1000, "the write, read in full"), 4);
});

Deno.test("pipe: a write a deadline ends reports exactly what the reader got, and no byte more is delivered", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  a.setWriteDeadline(Date.now() + 20);
  const early = await mustReject(
    a.write(new Uint8Array(10)),
    TimeoutError,
    1000,
    "an unread write",
  );
  assert.equal(early.bytesWritten, 0);
  assert.equal(early.settled, undefined); // nothing in flight: the count is final
  b.setReadDeadline(Date.now() + 30);
  await assert.rejects(b.read(new Uint8Array(16)), TimeoutError); // none of it comes
  b.setReadDeadline(null);

  a.setWriteDeadline(Date.now() + 60_000);
  const p = new Uint8Array(10_000).map((_, i) => i & 0xff);
  const writing = a.write(p);
  const got = new Uint8Array(3000);
  let n = 0;
  while (n < 3000) n += (await b.read(got.subarray(n)))!;
  a.setWriteDeadline(Date.now() - 1); // moved into the past mid-write
  const err = await mustReject(writing, TimeoutError, 1000, "a write read in part");
  assert.equal(err.bytesWritten, 3000);
  assert.deepEqual(got, p.subarray(0, 3000));
  assert.equal(a.stats().bytesWritten, 3000);
  b.setReadDeadline(Date.now() + 30);
  await assert.rejects(b.read(new Uint8Array(16)), TimeoutError); // the rest never comes
});

Deno.test("pipe: a reader that reads 1,000 bytes and closes: the write reports 1,000", async () => {
  const [a, b] = pipe();
  await using _a = a;
  const writing = a.write(new Uint8Array(10_000));
  assert.equal(await b.read(new Uint8Array(1000)), 1000);
  b.close();
  const err = await mustReject(writing, NetError, 1000, "a write whose reader closed");
  assert.equal(err.kind, "broken-pipe");
  assert.equal(err.bytesWritten, 1000);
});

Deno.test("pipe: zero-length calls wait as Go's: an empty write for a reader, an empty read for a writer", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  const empty = a.write(new Uint8Array(0));
  await mustNotSettle(empty, 30, "an empty write nobody reads");
  const reading = b.read(new Uint8Array(8));
  assert.equal(await mustSettle(empty, 1000, "an empty write met by a read"), 0);
  await mustNotSettle(reading, 30, "the read an empty write met"); // netconn's decision
  const zero = b.read(new Uint8Array(0)); // waits its turn behind the read
  const writing = a.write(enc("hi"));
  assert.equal(await mustSettle(reading, 1000, "the read"), 2);
  await mustSettle(writing, 1000, "the write");
  await mustNotSettle(zero, 30, "an empty read, nobody writing");
  const more = a.write(enc("more"));
  assert.equal(await mustSettle(zero, 1000, "an empty read met by a write"), 0);
  await mustNotSettle(more, 30, "a write an empty read took nothing of");
  assert.equal(await b.read(new Uint8Array(8)), 4);
  assert.equal(await more, 4);
  b.setReadDeadline(Date.now() + 20);
  await mustReject(b.read(new Uint8Array(0)), TimeoutError, 1000, "an empty read at a deadline");
  b.setReadDeadline(null);
  await a.closeWrite();
  assert.equal(await b.read(new Uint8Array(0)), null); // EOF, as Go's io.EOF
});

Deno.test("pipe: signals end one read or write, taking nothing more", async () => {
  const [a, b] = pipe();
  await using _a = a;
  await using _b = b;
  const ac = new AbortController();
  const reading = b.read(new Uint8Array(4), { signal: ac.signal });
  ac.abort();
  const aborted = await mustReject(reading, NetError, 1000, "an aborted read");
  assert.equal(aborted.kind, "aborted");
  const ac2 = new AbortController();
  const writing = a.write(new Uint8Array(10), { signal: ac2.signal });
  assert.equal(await b.read(new Uint8Array(4)), 4);
  ac2.abort();
  const err = await mustReject(writing, NetError, 1000, "an aborted write");
  assert.equal(err.bytesWritten, 4);
  await assert.rejects(a.read(null as unknown as Uint8Array), TypeError);
  await assert.rejects(a.write("x" as unknown as Uint8Array), TypeError);
  assert.throws(
    () => new PipeConn(Deno.stdin as unknown as ConstructorParameters<typeof PipeConn>[0]),
    TypeError,
  );
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
