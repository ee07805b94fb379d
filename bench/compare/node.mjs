// The peers comparison, Node's side: `node:net`, both ends of a loopback
// pair in this one process, written as Node code is (data events, write()
// until it returns false, then wait for "drain"). Run by bench/compare/run.ts
// as `node bench/compare/node.mjs`; it speaks the JSON lines described in
// bench/compare/deno.ts, whose workloads and checks it repeats. Node keeps a
// reference to a buffer it could not write at once, so every message or
// frame is built in a fresh Buffer (pooled by Node for small sizes);
// "msg-buf" copies messages into a hand-rolled buffer, and "msg-buf-fast"
// writes each message corked, uncorking every `buffer` bytes.

import { Buffer } from "node:buffer";
import net from "node:net";
import process from "node:process";
import readline from "node:readline";

const MSG = 64;
const PING = 32;
const CHUNK = 64 * 1024;
const FRAME = 1024;

const BULK_MIB = 16;
const ROUNDS = 1000;
const MESSAGES = 2000;
const BUFFERED = 20000;
const FRAMES = 1600;

function drain(sock) {
  return new Promise((resolve) => sock.once("drain", resolve));
}

/** A socket whose data events go to the handler the current unit sets. */
class End {
  constructor(sock) {
    this.sock = sock;
    this.onData = null;
    sock.setNoDelay(true);
    sock.on("data", (chunk) => this.onData(chunk));
  }

  /** Resolves when `handler` returns true; it sees every chunk until then. */
  receive(handler) {
    return new Promise((resolve, reject) => {
      this.onData = (chunk) => {
        try {
          if (handler(chunk)) resolve();
        } catch (e) {
          reject(e);
        }
      };
    });
  }
}

async function pair() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise((resolve) => server.once("connection", resolve));
  const client = net.connect(server.address().port, "127.0.0.1");
  await new Promise((resolve) => client.once("connect", resolve));
  const peer = await accepted;
  server.close();
  return [new End(client), new End(peer)];
}

// ---- the workloads: one unit of work each, checked ----

const SOURCE = Buffer.alloc(CHUNK).map((_, i) => i & 0xff);

async function bulk(from, to, total) {
  let got = 0;
  const received = to.receive((chunk) => {
    const n = chunk.length;
    if (chunk[0] !== (got & 0xff) || chunk[n - 1] !== ((got + n - 1) & 0xff)) {
      throw new Error(`bulk: wrong byte near offset ${got}`);
    }
    got += n;
    if (got > total) throw new Error(`bulk: ${got} bytes, more than ${total}`);
    return got === total;
  });
  for (let sent = 0; sent < total; sent += CHUNK) {
    if (!from.sock.write(SOURCE)) await drain(from.sock);
  }
  await received;
}

async function pingPong(client, server, rounds) {
  const inbox = Buffer.alloc(PING);
  let have = 0;
  let echoed = 0;
  const echo = server.receive((chunk) => {
    for (let off = 0; off < chunk.length;) {
      const n = Math.min(PING - have, chunk.length - off);
      chunk.copy(inbox, have, off, off + n);
      have += n;
      off += n;
      if (have === PING) {
        server.sock.write(Buffer.from(inbox));
        have = 0;
        echoed++;
      }
    }
    return echoed === rounds;
  });
  const msg = Buffer.alloc(PING);
  const back = Buffer.alloc(PING);
  let got = 0;
  let round = 0;
  const send = () => {
    msg.writeUInt32BE(round, 0);
    msg[PING - 1] = round & 0xff;
    client.sock.write(msg);
  };
  const pong = client.receive((chunk) => {
    chunk.copy(back, got);
    got += chunk.length;
    if (got < PING) return false;
    if (got > PING || !back.equals(msg)) throw new Error(`pingpong: round ${round} echoed wrong`);
    got = 0;
    if (++round === rounds) return true;
    send();
    return false;
  });
  send();
  await Promise.all([echo, pong]);
}

const TEMPLATE = Buffer.alloc(MSG).map((_, j) => 32 + j);

function stamp(msg, m) {
  msg[0] = m >>> 24;
  msg[1] = m >>> 16;
  msg[2] = m >>> 8;
  msg[3] = m;
  msg[MSG - 1] = m;
}

function newMessage(m) {
  const msg = Buffer.allocUnsafe(MSG);
  TEMPLATE.copy(msg);
  stamp(msg, m);
  return msg;
}

function messageByte(m, j) {
  return j < 4 ? (m >>> (24 - 8 * j)) & 0xff : j === MSG - 1 ? m & 0xff : 32 + j;
}

const CHECKED = [0, 1, 2, 3, 20, MSG - 1];

function receiveMessages(to, count) {
  const total = count * MSG;
  let off = 0;
  return to.receive((chunk) => {
    const end = off + chunk.length;
    if (end > total) throw new Error(`msg: ${end} bytes, more than ${total}`);
    for (let m = Math.floor(off / MSG); m * MSG < end; m++) {
      for (const j of CHECKED) {
        const k = m * MSG + j;
        if (k >= off && k < end && chunk[k - off] !== messageByte(m, j)) {
          throw new Error(`msg: message ${m} arrived torn or out of order (byte ${j})`);
        }
      }
    }
    off = end;
    return off === total;
  });
}

async function unbuffered(from, to, count) {
  const received = receiveMessages(to, count);
  for (let m = 0; m < count; m++) {
    if (!from.sock.write(newMessage(m))) await drain(from.sock);
  }
  await received;
}

async function handBuffered(from, to, count, size) {
  const received = receiveMessages(to, count);
  const msg = Buffer.from(TEMPLATE);
  let buf = Buffer.allocUnsafe(size);
  let n = 0;
  for (let m = 0; m < count; m++) {
    stamp(msg, m);
    if (n + MSG > size) {
      const full = !from.sock.write(buf.subarray(0, n));
      buf = Buffer.allocUnsafe(size); // Node may still hold the old one
      n = 0;
      if (full) await drain(from.sock);
    }
    msg.copy(buf, n);
    n += MSG;
  }
  if (n > 0) from.sock.write(buf.subarray(0, n));
  await received;
}

async function corked(from, to, count, size) {
  const received = receiveMessages(to, count);
  const sock = from.sock;
  const per = Math.max(1, Math.floor(size / MSG));
  sock.cork();
  for (let m = 0; m < count; m++) {
    const ok = sock.write(newMessage(m));
    if ((m + 1) % per === 0) {
      sock.uncork();
      if (!ok || sock.writableNeedDrain) await drain(sock);
      sock.cork();
    }
  }
  sock.uncork();
  await received;
}

function newFrame(writer, seq) {
  const frame = Buffer.allocUnsafe(FRAME);
  for (let j = 10; j < FRAME - 1; j++) frame[j] = (writer + j) & 0xff;
  frame.writeUInt32BE(FRAME - 4, 0);
  frame.writeUInt16BE(writer, 4);
  frame.writeUInt32BE(seq, 6);
  frame[FRAME - 1] = seq & 0xff;
  return frame;
}

function receiveFrames(to, writers, frames) {
  const next = new Uint32Array(writers);
  let buf = Buffer.alloc(CHUNK + FRAME);
  let w = 0; // buf[0, w) holds bytes not parsed yet
  let whole = 0;
  return to.receive((chunk) => {
    if (w + chunk.length > buf.length) {
      const bigger = Buffer.alloc(w + chunk.length);
      buf.copy(bigger, 0, 0, w);
      buf = bigger;
    }
    chunk.copy(buf, w);
    w += chunk.length;
    let r = 0;
    for (; w - r >= FRAME; r += FRAME) {
      const len = buf.readUInt32BE(r);
      const writer = buf.readUInt16BE(r + 4);
      const seq = buf.readUInt32BE(r + 6);
      const ok = len === FRAME - 4 && writer < writers && seq === next[writer] &&
        buf[r + 10] === ((writer + 10) & 0xff) &&
        buf[r + FRAME - 2] === ((writer + FRAME - 2) & 0xff) && buf[r + FRAME - 1] === (seq & 0xff);
      if (!ok) throw new Error(`frames: frame ${whole} of ${frames} arrived torn or out of order`);
      next[writer]++;
      whole++;
    }
    buf.copy(buf, 0, r, w);
    w -= r;
    if (whole > frames) throw new Error(`frames: ${whole} frames, more than ${frames}`);
    return whole === frames && w === 0;
  });
}

async function framed(from, to, writers, frames) {
  const received = receiveFrames(to, writers, frames);
  const each = frames / writers;
  const write = async (writer) => {
    for (let seq = 0; seq < each; seq++) {
      if (!from.sock.write(newFrame(writer, seq))) await drain(from.sock);
    }
  };
  const tasks = [];
  for (let k = 0; k < writers; k++) tasks.push(write(k));
  await Promise.all([received, ...tasks]);
}

// ---- slices ----

function workloads() {
  return [
    { name: "bulk", unit: "MiB/s", work: BULK_MIB, run: (c, s) => bulk(c, s, BULK_MIB << 20) },
    {
      name: "pingpong",
      unit: "round trips/s",
      work: ROUNDS,
      run: (c, s) => pingPong(c, s, ROUNDS),
    },
    { name: "msg", unit: "msgs/s", work: MESSAGES, run: (c, s) => unbuffered(c, s, MESSAGES) },
    {
      name: "msg-buf",
      unit: "msgs/s",
      work: BUFFERED,
      run: (c, s, buffer) => handBuffered(c, s, BUFFERED, buffer),
    },
    {
      name: "msg-buf-fast",
      unit: "msgs/s",
      work: BUFFERED,
      run: (c, s, buffer) => corked(c, s, BUFFERED, buffer),
    },
    { name: "frames-1", unit: "frames/s", work: FRAMES, run: (c, s) => framed(c, s, 1, FRAMES) },
    { name: "frames-8", unit: "frames/s", work: FRAMES, run: (c, s) => framed(c, s, 8, FRAMES) },
  ];
}

async function slice(w, client, server, ms, buffer) {
  let done = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    await w.run(client, server, buffer);
    done += w.work;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return done / (elapsed / 1000);
}

function reply(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main() {
  const byName = new Map(workloads().map((w) => [w.name, w]));
  reply({ peer: "node", runtime: `node ${process.version}` });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line.trim() === "") continue;
    const req = JSON.parse(line);
    const w = byName.get(req.workload);
    if (w === undefined) throw new RangeError(`Unknown workload "${req.workload}"`);
    const [client, server] = await pair();
    try {
      const rate = await slice(w, client, server, req.ms, req.buffer);
      reply({ workload: w.name, unit: w.unit, rate });
    } finally {
      client.sock.destroy();
      server.sock.destroy();
    }
  }
}

await main();
