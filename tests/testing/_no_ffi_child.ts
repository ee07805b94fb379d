// Run without --allow-ffi by fault_proxy_no_ffi_test.ts: what a reset fault
// does when the proxy cannot send a RST. Prints one JSON object.

import { dial, listen, type NetError } from "../../mod.ts";
import { FaultProxy } from "../../testing/mod.ts";

/** How a read ended: a count, "EOF", or the error's kind. */
function outcome(p: Promise<number | null>): Promise<number | string> {
  return p.then((n) => n ?? "EOF", (e: NetError) => e.kind);
}

await using server = listen("127.0.0.1:0");
await using proxy = new FaultProxy(server.addr);
await using client = await dial(proxy.addr);
await using peer = await server.accept();
await peer.write(new Uint8Array(10));
const buf = new Uint8Array(100);
const before = await outcome(client.read(buf));
proxy.add({ kind: "reset" });
const clientRead = await outcome(client.read(buf));
const serverRead = await outcome(peer.read(buf));
await new Promise((r) => setTimeout(r, 50));
const clientWrites: (number | string)[] = [];
for (let i = 0; i < 2; i++) {
  clientWrites.push(await client.write(new Uint8Array(10)).then((n) => n, (e: NetError) => e.kind));
}
console.log(JSON.stringify({
  resetSupported: FaultProxy.resetSupported(),
  before,
  clientRead,
  serverRead,
  clientWrites,
  resets: proxy.stats().resets,
}));
