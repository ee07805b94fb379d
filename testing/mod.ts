/**
 * Testing kit for network code: {@linkcode FaultProxy}, a loopback proxy that
 * injects faults between a client and its server (latency with jitter, a
 * bandwidth cap, slicing, silence, cut, reset, refused conns, slow close,
 * timeout, a data limit), added and removed while conns are open, per
 * direction, with seeded randomness; {@linkcode Toxiproxy}, toxiproxy's REST
 * API over it, so toxiproxy's clients drive it; and {@linkcode testConn},
 * the conformance suite for anything with the `Conn` contract.
 *
 * @example A read deadline against a silent server
 * ```ts
 * import { dial, listen, TimeoutError } from "@netconn/netconn";
 * import { FaultProxy } from "@netconn/netconn/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = listen("127.0.0.1:0");
 * await using proxy = new FaultProxy(server.addr);
 * await using client = await dial(proxy.addr);
 * await using peer = await server.accept();
 *
 * const silence = proxy.add({ kind: "silence", direction: "downstream" });
 * await peer.write(new TextEncoder().encode("late"));
 * const buf = new Uint8Array(4);
 * client.setReadDeadline(Date.now() + 50);
 * await assert.rejects(client.read(buf), TimeoutError);
 *
 * proxy.remove(silence); // the held bytes come through, nothing lost
 * client.setReadDeadline(null);
 * assert.equal(await client.read(buf), 4);
 * ```
 *
 * @module
 */

export * from "./fault_proxy.ts";
export * from "./make_pipe.ts";
export type { DeadlineTime } from "../deadline.ts";
export { type StepContext, testConn, type TestConnOptions } from "./test_conn.ts";
export * from "./toxiproxy.ts";
