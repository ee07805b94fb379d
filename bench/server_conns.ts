// serve() after many conns: open descriptors and heap come back to where
// they started. 100,000 conns by default, 50 at a time: each dials, sends a
// line, reads the echo and closes; the server's handler echoes until EOF.
//
//   deno run -A --v8-flags=--expose-gc bench/server_conns.ts [--conns=100000] [--parallel=50]
//
// It prints the descriptors (/proc/self/fd) and the heap after a full GC
// before, at every quarter, and after the server has shut down, and fails
// (exit 1) if either has not come back near its start.

import { dial, serve } from "../mod.ts";

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
}

/** Open descriptors, by number, with what each is (the listing's own descriptor shows as "?"). */
function fdTable(): Map<string, string> {
  const table = new Map<string, string>();
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let target = "?";
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      // The listing's own descriptor, closed by now.
    }
    table.set(entry.name, target);
  }
  return table;
}

function fds(): number {
  return fdTable().size;
}

/** Descriptors that are TCP sockets (found in /proc/net/tcp and tcp6 by inode). */
function tcpFds(): number {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(file).split("\n").slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode !== undefined) inodes.add(inode);
    }
  }
  let n = 0;
  for (const target of fdTable().values()) {
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m !== null && inodes.has(m[1]!)) n++;
  }
  return n;
}

function heapMiB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
  return Deno.memoryUsage().heapUsed / (1 << 20);
}

async function echo(
  conn: { read(p: Uint8Array): Promise<number | null>; write(p: Uint8Array): Promise<number> },
) {
  const buf = new Uint8Array(1024);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    await conn.write(buf.subarray(0, n));
  }
}

const total = flag("conns", 100_000);
const parallel = flag("parallel", 50);
const line = new TextEncoder().encode("hello, server\n");

// Warm up (JIT, pools), then measure the start.
async function run(server: { addr: Deno.NetAddr }, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    const buf = new Uint8Array(line.length);
    while (next < count) {
      next++;
      const conn = await dial(server.addr);
      try {
        await conn.write(line);
        let got = 0;
        while (got < line.length) {
          const n = await conn.read(buf.subarray(got));
          if (n === null) throw new Error("EOF before the echo");
          got += n;
        }
      } finally {
        conn.close();
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/**
 * Lets the last conns' handlers end (they read EOF after the client closed)
 * and their sockets close (once the runtime has settled their last read):
 * until only the listener is left, up to 1 s.
 */
async function settled(): Promise<void> {
  for (let waited = 0; waited < 1000; waited += 5) {
    if (server.stats().active === 0 && tcpFds() === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const before = { fds: fds(), tcp: tcpFds(), heap: heapMiB() };
const server = serve("127.0.0.1:0", echo);
await run(server, 2000);
await settled();
const start = { fds: fds(), tcp: tcpFds(), heap: heapMiB() };
const show = (fd: number, tcp: number, heap: number): string =>
  `${fd} fds (${tcp} TCP sockets), ${heap.toFixed(1)} MiB heap`;
console.log(`before serve: ${show(before.fds, before.tcp, before.heap)}`);
console.log(`serving, after 2,000 warm-up conns: ${show(start.fds, start.tcp, start.heap)}`);
const t0 = performance.now();
for (let quarter = 1; quarter <= 4; quarter++) {
  await run(server, total / 4);
  await settled();
  const conns = (total * quarter / 4).toLocaleString("en");
  console.log(
    `after ${conns} conns: ${show(fds(), tcpFds(), heapMiB())}, ${server.stats().active} active`,
  );
}
const seconds = (performance.now() - t0) / 1000;
const end = { fds: fds(), tcp: tcpFds(), heap: heapMiB() };
const stats = server.stats();
await server.shutdown();
const after = { fds: fds(), tcp: tcpFds(), heap: heapMiB() };
console.log(
  `${total.toLocaleString("en")} conns in ${seconds.toFixed(1)} s (${
    (total / seconds).toFixed(0)
  } conns/s); accepted ${stats.accepted}, errors ${stats.errors}`,
);
console.log(`after shutdown: ${show(after.fds, after.tcp, after.heap)}`);
if (end.fds > start.fds) {
  // The runtime opens a socket pair of its own once (a unix one): shown, not a leak.
  console.log("descriptors now:", JSON.stringify(Object.fromEntries(fdTable())));
}
// Every TCP socket is back; other descriptors grew by at most the runtime's pair; the
// listener is gone after shutdown; the heap is within 2 MiB of where it started.
const ok = end.tcp === start.tcp && after.tcp === before.tcp && end.fds - start.fds <= 2 &&
  end.heap - start.heap < 2 && stats.errors === 0;
console.log(ok ? "descriptors and heap came back" : "LEAK: descriptors or heap did not come back");
if (!ok) Deno.exit(1);
