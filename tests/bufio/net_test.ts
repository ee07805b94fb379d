// Interop over loopback: concurrent framed senders on one connection, read
// back whole, with netconn's Conn and with a raw Deno.Conn. Bounded in count
// and time; every test closes what it opens.

import assert from "node:assert/strict";
import {
  BufReader,
  BufWriter,
  FrameReader,
  FrameWriter,
  LineReader,
  LineWriter,
} from "../../bufio/mod.ts";
import { dial, listen, TimeoutError } from "../../mod.ts";
import { pattern } from "../../_kit/bytes.ts";

const SENDERS = 8;
const FRAMES_PER_SENDER = 24;
// Includes frames larger than a socket buffer, so writes go out in pieces.
const FRAME_SIZES = [0, 10, 1000, 70_000, 300_000];
const LIMIT_MS = 20_000;

function payload(sender: number, seq: number): Uint8Array {
  const body = pattern(FRAME_SIZES[seq % FRAME_SIZES.length]!, sender * 1000 + seq + 1);
  const out = new Uint8Array(3 + body.length);
  out[0] = sender;
  out[1] = seq >> 8;
  out[2] = seq & 0xff;
  out.set(body, 3);
  return out;
}

// Checks each frame is one sender's frame, whole and in that sender's order.
function checker(): { check(frame: Uint8Array): void; done(): void } {
  const next = new Array<number>(SENDERS).fill(0);
  return {
    check(frame) {
      const sender = frame[0]!;
      const seq = (frame[1]! << 8) | frame[2]!;
      assert.equal(seq, next[sender], `sender ${sender} out of order`);
      next[sender]!++;
      assert.deepEqual(frame, payload(sender, seq), `frame ${sender}/${seq} damaged`);
    },
    done() {
      assert.deepEqual(next, new Array(SENDERS).fill(FRAMES_PER_SENDER));
    },
  };
}

async function sendAll(send: (p: Uint8Array) => Promise<void>, sender: number): Promise<void> {
  for (let seq = 0; seq < FRAMES_PER_SENDER; seq++) await send(payload(sender, seq));
}

Deno.test("frames from concurrent FrameWriters on one netconn Conn arrive whole", async () => {
  await using ln = listen("127.0.0.1:0");
  await using client = await dial(ln.addr);
  await using server = await ln.accept();
  server.setReadDeadline(Date.now() + LIMIT_MS);
  client.setWriteDeadline(Date.now() + LIMIT_MS);

  const receiving = (async () => {
    const c = checker();
    for await (const frame of new FrameReader(server, { bufferSize: 65536 })) c.check(frame);
    c.done();
  })();
  await Promise.all(
    Array.from({ length: SENDERS }, (_, sender) => {
      const writer = new FrameWriter(client); // one writer per sender, one Conn
      return sendAll((p) => writer.writeFrame(p), sender);
    }),
  );
  await client.closeWrite();
  await receiving;
});

Deno.test("lines from concurrent LineWriters on one netconn Conn arrive whole", async () => {
  await using ln = listen("127.0.0.1:0");
  await using client = await dial(ln.addr);
  await using server = await ln.accept();
  server.setReadDeadline(Date.now() + LIMIT_MS);

  const line = (sender: number, seq: number) =>
    `${sender}:${seq}:${"x".repeat((seq * 997) % 20_000)}`;
  const receiving = (async () => {
    const next = new Array<number>(SENDERS).fill(0);
    for await (const got of new LineReader(server)) {
      const [sender, seq] = got.split(":").map(Number) as [number, number];
      assert.equal(seq, next[sender]!++);
      assert.equal(got, line(sender, seq));
    }
    assert.deepEqual(next, new Array(SENDERS).fill(FRAMES_PER_SENDER));
  })();
  await Promise.all(
    Array.from({ length: SENDERS }, async (_, sender) => {
      const writer = new LineWriter(client);
      for (let seq = 0; seq < FRAMES_PER_SENDER; seq++) await writer.writeLine(line(sender, seq));
    }),
  );
  await client.closeWrite();
  await receiving;
});

Deno.test("concurrent BufWriters on one netconn Conn: each flush arrives as one run", async () => {
  await using ln = listen("127.0.0.1:0");
  await using client = await dial(ln.addr);
  await using server = await ln.accept();
  server.setReadDeadline(Date.now() + LIMIT_MS);

  const receiving = (async () => {
    const c = checker();
    // Read frames through a BufReader over the conn's ReadableStream.
    const br = new BufReader(server.readable, 65536);
    for await (const frame of new FrameReader(br)) c.check(frame);
    c.done();
  })();
  await Promise.all(
    Array.from({ length: SENDERS }, async (_, sender) => {
      // Each sender batches whole frames in its own 64 KiB buffer and flushes
      // before a frame would straddle two flushes.
      const bw = new BufWriter(client, 65536);
      const frames = new FrameWriter(bw);
      for (let seq = 0; seq < FRAMES_PER_SENDER; seq++) {
        const p = payload(sender, seq);
        if (bw.available() < p.length + 4) await bw.flush();
        if (p.length + 4 > bw.size) {
          await new FrameWriter(client).writeFrame(p); // too large to batch
        } else {
          await frames.writeFrame(p);
        }
      }
      await bw.flush();
    }),
  );
  await client.closeWrite();
  await receiving;
});

Deno.test("a read deadline inside a frame or line loses nothing: the next call returns it whole", async () => {
  await using ln = listen("127.0.0.1:0");
  await using client = await dial(ln.addr);
  await using server = await ln.accept();
  const br = new BufReader(server);
  const frames = new FrameReader(br);
  const lines = new LineReader(br);
  const frame = payload(1, 2); // 1003 bytes
  const wire = new Uint8Array(4 + frame.length);
  new DataView(wire.buffer).setUint32(0, frame.length);
  wire.set(frame, 4);

  for (const cut of [2, 500]) {
    await client.write(wire.subarray(0, cut));
    server.setReadDeadline(Date.now() + 30);
    await assert.rejects(frames.readFrame(), TimeoutError);
    server.setReadDeadline(null);
    await client.write(wire.subarray(cut));
    assert.deepEqual(await frames.readFrame(), frame);
  }

  await client.write(new TextEncoder().encode("half a li"));
  server.setReadDeadline(Date.now() + 30);
  await assert.rejects(lines.readLine(), TimeoutError);
  server.setReadDeadline(null);
  await client.write(new TextEncoder().encode("ne\n"));
  assert.equal(await lines.readLine(), "half a line");
});

Deno.test("BufWriter over a Conn's writable stream, BufReader over its readable stream", async () => {
  await using ln = listen("127.0.0.1:0");
  await using client = await dial(ln.addr);
  await using server = await ln.accept();
  server.setReadDeadline(Date.now() + LIMIT_MS);
  const bw = new BufWriter(client.writable, 1024);
  const br = new BufReader(server.readable, 16);
  const text = Array.from({ length: 200 }, (_, i) => `line ${i} ${"é".repeat(i % 50)}\n`).join("");
  const receiving = (async () => {
    let got = "";
    for (let s; (s = await br.readString(0x0a)) !== null;) got += s;
    return got;
  })();
  await bw.writeString(text);
  await bw.flush();
  bw.reset({ write: (p) => Promise.resolve(p.length) }); // unlocks client.writable
  await client.writable.close(); // closeWrite
  assert.equal(await receiving, text);
});

Deno.test("one FrameWriter shared by concurrent senders keeps frames whole on a raw Deno.Conn", async () => {
  using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: ln.addr.port });
  using server = await ln.accept();
  // A raw Deno.Conn has no deadlines: close it if the test overruns.
  const guard = setTimeout(() => {
    client.close();
    server.close();
  }, LIMIT_MS);
  try {
    const receiving = (async () => {
      const c = checker();
      for await (const frame of new FrameReader(server)) c.check(frame);
      c.done();
    })();
    const writer = new FrameWriter(client);
    await Promise.all(
      Array.from({ length: SENDERS }, (_, sender) => sendAll((p) => writer.writeFrame(p), sender)),
    );
    await client.closeWrite();
    await receiving;
  } finally {
    clearTimeout(guard);
  }
});
