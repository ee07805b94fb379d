// What Server.shutdown does with idle, busy and stuck conns, timed:
//
//   deno run --allow-net --allow-ffi bench/server_shutdown.ts [--idle=1000] [--busy=10] [--stuck=10] [--work=200] [--timeout=1000]
//
// Idle conns wait in read; busy ones are 200 ms into their work (not in
// read) and answer when done; stuck ones write to a client that never reads.
// It prints, from the call to shutdown({ timeout }), when the last idle conn
// read EOF, when the last busy one had its answer and EOF, when the stuck
// ones were forced, and the result. Client and server share the process:
// 1000 idle conns need `ulimit -n` above 2,100.

import { type Conn, dial, serve } from "../mod.ts";

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
}

const counts = { idle: flag("idle", 1000), busy: flag("busy", 10), stuck: flag("stuck", 10) };
const work = flag("work", 200);
const timeout = flag("timeout", 1000);
const encoder = new TextEncoder();

const server = serve("127.0.0.1:0", async (conn) => {
  const buf = new Uint8Array(16);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    if (buf[0] === 0x62) { // "b": busy for `work` ms, then answer
      await conn.write(encoder.encode("w"));
      await new Promise((resolve) => setTimeout(resolve, work));
      await conn.write(encoder.encode("d"));
    } else if (buf[0] === 0x73) { // "s": write until forced
      const chunk = new Uint8Array(64 * 1024);
      for (;;) await conn.write(chunk);
    }
  }
}, { onError: () => {} });

async function readByte(conn: Conn): Promise<number | null> {
  const buf = new Uint8Array(1);
  const n = await conn.read(buf);
  return n === null ? null : buf[0]!;
}

async function open(n: number, command: string): Promise<Conn[]> {
  const conns = await Promise.all(Array.from({ length: n }, () => dial(server.addr)));
  if (command !== "") {
    for (const c of conns) await c.write(encoder.encode(command));
    for (const c of conns) await readByte(c); // "w", or the flood's first byte: the handler runs
  }
  return conns;
}

const idle = await open(counts.idle, "");
const busy = await open(counts.busy, "b");
const stuck = await open(counts.stuck, "s");
while (server.stats().idle < counts.idle) await new Promise((resolve) => setTimeout(resolve, 1));

const start = performance.now();
const since = () => performance.now() - start;
const result = server.shutdown({ timeout });
const idleDone = Promise.all(idle.map(async (c) => {
  while (await readByte(c) !== null) { /* EOF */ }
})).then(since);
const busyDone = Promise.all(busy.map(async (c) => {
  if (await readByte(c) !== 0x64) throw new Error("a busy conn lost its answer");
  if (await readByte(c) !== null) throw new Error("no EOF after the answer");
})).then(since);
const resultAt = result.then(since);
const [idleMs, busyMs, resultMs] = await Promise.all([idleDone, busyDone, resultAt]);
console.log(
  `shutdown({ timeout: ${timeout} }) with ${counts.idle} idle, ${counts.busy} busy ` +
    `(${work} ms of work left), ${counts.stuck} stuck conns:`,
);
console.log(`  every idle conn read EOF after    ${idleMs.toFixed(1)} ms`);
console.log(`  every busy conn answered, EOF after ${busyMs.toFixed(1)} ms`);
console.log(`  stuck conns forced; resolved after ${resultMs.toFixed(1)} ms:`, await result);
for (const c of [...idle, ...busy, ...stuck]) c.close();
await server.finished;
