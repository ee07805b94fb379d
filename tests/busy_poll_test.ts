// Busy-poll (TcpConn.setBusyPoll, the busyPoll option): reads still get
// every byte in order, deadlines and timers still run, an idle conn still
// waits, and bad values or conns that cannot spin get clear errors.

import assert from "node:assert/strict";
import { dial, dialTls, listen, NotSupportedError, TimeoutError } from "../mod.ts";
import { sockoptSupported } from "../sockopt/mod.ts";
import { pair } from "../_kit/loopback.ts";
import { mustNotSettle, mustReject, mustSettle } from "../_kit/wait.ts";
import { pattern, readAtLeast } from "../_kit/bytes.ts";

const spins = Deno.build.os === "linux" && sockoptSupported();

Deno.test({
  name: "busy poll: request and response get every byte, in order",
  ignore: !spins,
  async fn() {
    await using p = await pair({ dial: { busyPoll: 50 }, listen: { busyPoll: 50 } });
    const data = pattern(64 * 1024, 7);
    const echo = (async () => {
      const buf = new Uint8Array(4096);
      for (let n = await p.server.read(buf); n !== null; n = await p.server.read(buf)) {
        await p.server.write(buf.subarray(0, n));
      }
    })();
    for (let at = 0; at < data.length; at += 1000) {
      const part = data.subarray(at, at + 1000);
      await p.client.write(part);
      assert.deepEqual(await readAtLeast(p.client, part.length), part);
    }
    await p.client.closeWrite();
    await mustSettle(echo, 5000, "the echo loop");
  },
});

Deno.test({
  name: "busy poll: an idle conn still waits, timers run, and a deadline ends the read",
  ignore: !spins,
  async fn() {
    await using p = await pair();
    p.client.setBusyPoll(1000);
    const read = p.client.read(new Uint8Array(8));
    // The spins give up and the read waits on the runtime: a timer gets its turn.
    await mustSettle(new Promise((resolve) => setTimeout(resolve, 5)), 1000, "a timer");
    await mustNotSettle(read, 50, "a read with nothing to read");
    await p.server.write(new Uint8Array([1, 2]));
    assert.equal(await mustSettle(read, 2000, "the read once data came"), 2);
    p.client.setReadDeadline(Date.now() + 50);
    await mustReject(
      p.client.read(new Uint8Array(8)),
      TimeoutError,
      2000,
      "the read at its deadline",
    );
    p.client.setBusyPoll(0); // off again
  },
});

Deno.test("busy poll: bad values and conns that cannot spin get clear errors", async () => {
  await using p = await pair();
  for (const bad of [-1, 1.5, NaN, 2_000_000]) {
    assert.throws(() => p.client.setBusyPoll(bad), RangeError, String(bad));
  }
  assert.throws(() => p.client.setBusyPoll("50" as never), TypeError);
  await mustReject(dial(p.ln.addr, { busyPoll: -5 }), RangeError, 1000);
  const path = `${await Deno.makeTempDir()}/b.sock`;
  await mustReject(dial({ transport: "unix", path }, { busyPoll: 0 }), TypeError, 1000);
  const tls = await mustReject(dialTls(p.ln.addr, { busyPoll: 10 } as never), TypeError, 1000);
  assert.match(tls.message, /"busyPoll"/);
  assert.throws(() => listen("127.0.0.1:0", { busyPoll: 1.5 }), RangeError);
  if (!spins) {
    assert.throws(() => p.client.setBusyPoll(10), NotSupportedError);
    await mustReject(dial(p.ln.addr, { busyPoll: 10 }), NotSupportedError, 1000);
  }
  await Deno.remove(path.slice(0, path.lastIndexOf("/")), { recursive: true });
});
