/**
 * The netconn side of the probe's reusePort row, run in a child process
 * with `--unstable-net` (Deno allows SO_REUSEPORT only with it): two
 * listeners with `reusePort: true` on one port, 20 dials, each read to EOF
 * once a listener accepted and closed it. Prints one JSON line:
 * `{"port", "dials", "first", "second"}`, or `{"error"}`. Internal to the
 * probe.
 *
 * @module
 */

import { dial, listen, type Listener } from "../mod.ts";
import { LOOPBACK } from "../_kit/loopback.ts";

const DIALS = 20;

/** Two reusePort listeners on one port; how many of `DIALS` dials each accepted. */
export async function sharePort(): Promise<{ port: number; first: number; second: number }> {
  const first = listen(`${LOOPBACK}:0`, { reusePort: true });
  let second: Listener | undefined;
  try {
    second = listen(`${LOOPBACK}:${first.addr.port}`, { reusePort: true });
    const counts = [0, 0];
    const serving = [first, second].map(async (ln, i) => {
      for await (const conn of ln) {
        counts[i]!++;
        conn.close();
      }
    });
    for (let i = 0; i < DIALS; i++) {
      const conn = await dial(first.addr);
      await conn.read(new Uint8Array(1)).catch(() => null); // EOF once a listener served it
      conn.close();
    }
    first.close();
    second.close();
    await Promise.all(serving);
    return { port: first.addr.port, first: counts[0]!, second: counts[1]! };
  } finally {
    await first[Symbol.asyncDispose]();
    await second?.[Symbol.asyncDispose]();
  }
}

if (import.meta.main) {
  try {
    console.log(JSON.stringify({ dials: DIALS, ...await sharePort() }));
  } catch (e) {
    console.log(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
  }
}
