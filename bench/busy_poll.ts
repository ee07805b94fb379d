// Busy-poll against a peer in another process: round trips per second of
// 32-byte request and response to an echo server in a Python process, for
// raw Deno, netconn, and netconn with busy-poll (TcpConn.setBusyPoll), in
// alternating rounds of one run; ratios to raw Deno. Every round trip checks
// its reply.
//
//   deno run --allow-net --allow-ffi --allow-run bench/busy_poll.ts [--rounds=9] [--us=50]

import { dial } from "../mod.ts";
import { median } from "../_kit/stats.ts";

const args = new Map(Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const ROUNDS = Number(args.get("rounds") ?? 9);
const US = Number(args.get("us") ?? 50);
const SLICE_MS = 300;

// One thread per conn, blocking recv and sendall: the peer does no event-loop work.
const PEER = `
import socket, sys, threading
ln = socket.socket(); ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ln.bind(("127.0.0.1", 0)); ln.listen(16)
print(ln.getsockname()[1], flush=True)
def echo(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = c.recv(65536)
        if not b: return
        c.sendall(b)
while True:
    c, _ = ln.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
`;

interface Client {
  write(p: Uint8Array): Promise<number>;
  read(p: Uint8Array): Promise<number | null>;
  close(): void;
}

async function roundTrips(conn: Client, ms: number): Promise<number> {
  const req = new Uint8Array(32).fill(7);
  const res = new Uint8Array(32);
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) {
      await conn.write(req);
      let got = 0;
      while (got < 32) {
        const m = await conn.read(res.subarray(got));
        if (m === null) throw new Error("the peer closed");
        got += m;
      }
      if (res[31] !== 7) throw new Error("a wrong reply");
      n++;
    }
  }
  return n / (ms / 1000);
}

const peer = new Deno.Command("python3", { args: ["-c", PEER], stdout: "piped" }).spawn();
const reader = peer.stdout.getReader();
const { value } = await reader.read();
reader.releaseLock();
const port = Number(new TextDecoder().decode(value).trim());
const raw = await Deno.connect({ hostname: "127.0.0.1", port });
raw.setNoDelay(true);
const plain = await dial({ hostname: "127.0.0.1", port });
const polled = await dial({ hostname: "127.0.0.1", port }, { busyPoll: US });
const variants: [string, Client][] = [["raw Deno", raw], ["netconn", plain], [
  `netconn busyPoll ${US} µs`,
  polled,
]];
const ratios = new Map<string, number[]>(variants.map(([name]) => [name, []]));
const rates = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (const [, conn] of variants) await roundTrips(conn, 100); // warm up
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  const got = new Map<string, number>();
  for (const [name, conn] of order) got.set(name, await roundTrips(conn, SLICE_MS));
  for (const [name] of variants) {
    ratios.get(name)!.push(got.get(name)! / got.get("raw Deno")!);
    rates.get(name)!.push(got.get(name)!);
  }
}
for (const [name] of variants) {
  console.log(
    `${name.padEnd(26)} ${
      Math.round(median(rates.get(name)!)).toLocaleString("en")
    } round trips/s` +
      `  ${median(ratios.get(name)!).toFixed(2)}x raw Deno`,
  );
}
for (const [, conn] of variants) conn.close();
peer.kill();
await peer.status;
await peer.stdout.cancel().catch(() => {});
