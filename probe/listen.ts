/**
 * The listener rows: the default backlog (somaxconn, as Go), what backlog n
 * means while nobody accepts, and `reusePort` without `--unstable-net`.
 *
 * @module
 */

import { type Conn, listen, type Listener, NetError, NotSupportedError } from "../mod.ts";
import { listenerFd } from "../sockopt/mod.ts";
import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { LOOPBACK } from "../_kit/loopback.ts";
import { describe, kindOf } from "./_cells.ts";
import { failure } from "../_kit/wait.ts";
import { agreement, same } from "./_agree.ts";
import { compareBacklog } from "./dial.ts";

const IPPROTO_TCP = 6;
const TCP_INFO = 11; // Linux
const TCPI_SACKED = 28; // offset of tcpi_sacked: a listener's accept-queue limit

/** The libc calls the listener rows use (Linux), open until `close()`. */
function libc() {
  return Deno.dlopen("libc.so.6", {
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
    open: { parameters: ["buffer", "i32"], result: "i32" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
  });
}

/**
 * Linux's `net.core.somaxconn`, or undefined elsewhere. Read through libc:
 * Deno lets only `--allow-all` read `/proc/sys`, while FFI is one permission.
 */
function somaxconn(): number | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const lib = libc();
  try {
    const fd = lib.symbols.open(new TextEncoder().encode("/proc/sys/net/core/somaxconn\0"), 0);
    if (fd < 0) return undefined;
    const buf = new Uint8Array(32);
    const n = Number(lib.symbols.read(fd, buf, BigInt(buf.length)));
    lib.symbols.close(fd);
    const value = Number(new TextDecoder().decode(buf.subarray(0, Math.max(n, 0))).trim());
    return Number.isInteger(value) && value > 0 ? value : undefined;
  } finally {
    lib.close();
  }
}

/**
 * The accept-queue limit the kernel keeps for a listening socket (Linux:
 * `tcpi_sacked` of TCP_INFO, the backlog after listen(2) capped it at
 * somaxconn), or undefined elsewhere.
 */
export function acceptQueueLimit(ln: { addr: Deno.Addr }): number | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const fd = listenerFd(ln);
  const lib = libc();
  try {
    const info = new Uint8Array(104);
    const len = new Uint32Array([info.length]);
    if (lib.symbols.getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, len) !== 0) return undefined;
    return new DataView(info.buffer).getUint32(TCPI_SACKED, true);
  } finally {
    lib.close();
  }
}

/** listen's default backlog is somaxconn, as Go's; Deno's own default is lower. */
export const backlogDefault: Experiment = {
  name: "listen: default backlog",
  go: "Listen passes somaxconn (Linux: net.core.somaxconn) as the backlog",
  needs: ["ffi"],
  goCase: "default-backlog",
  compare: (go, ours) =>
    agreement(
      same("accept-queue limit", go.numbers.acceptQueueLimit, ours.numbers.acceptQueueLimit),
    ),
  run(lab: Lab): Promise<Outcome> {
    const max = somaxconn();
    const limit = acceptQueueLimit(lab.listen());
    const raw = Deno.listen({ hostname: LOOPBACK, port: 0 });
    lab.track(raw, () => raw.close());
    const rawLimit = acceptQueueLimit(raw);
    const numbers: Record<string, number> = {};
    if (max !== undefined) numbers.somaxconn = max;
    if (limit !== undefined) numbers.acceptQueueLimit = limit;
    if (rawLimit !== undefined) numbers.rawAcceptQueueLimit = rawLimit;
    return Promise.resolve({
      netconn: limit === undefined
        ? "the accept-queue limit cannot be read on this OS"
        : `somaxconn ${max}; the listener's accept-queue limit (TCP_INFO) ${limit}`,
      raw: rawLimit === undefined ? "" : `Deno.listen: accept-queue limit ${rawLimit}`,
      numbers,
      ok: limit === undefined || limit === max,
    });
  },
};

/** Backlog n: about n + 1 dials complete while nobody accepts, then they hang. */
export const backlogN: Experiment = {
  name: "listen: backlog n",
  go: "backlog n: about n + 1 dials complete while nobody accepts; the next one hangs",
  limitMs: 10_000,
  goCase: "backlog-n",
  compare: compareBacklog,
  async run(lab: Lab): Promise<Outcome> {
    const backlog = 4;
    const timeout = 300;
    const ln = lab.listen({ backlog });
    const conns: Conn[] = [];
    let error: unknown;
    while (conns.length < 64 && error === undefined) {
      try {
        conns.push(await lab.dial(ln.addr, { timeout }));
      } catch (e) {
        error = e;
      }
    }
    const n = conns.length;
    return {
      netconn: `backlog ${backlog}: ${n} dials connected, the next → ${describe(error)} ` +
        `at its ${timeout} ms timeout`,
      numbers: { backlog, connected: n, timeoutMs: timeout },
      facts: { error: kindOf(error) },
      ok: n >= backlog && n <= backlog + 2 && error instanceof NetError && error.timeout,
    };
  },
};

/** reusePort: a NotSupportedError without --unstable-net, a shared port with it. */
export const reusePort: Experiment = {
  name: "listen: reusePort",
  go: "SO_REUSEPORT (ListenConfig.Control): listeners share one port",
  async run(lab: Lab): Promise<Outcome> {
    const track = (ln: Listener): Listener => lab.track(ln, () => ln[Symbol.asyncDispose]());
    let first: Listener;
    try {
      first = track(listen(`${LOOPBACK}:0`, { reusePort: true }));
    } catch (e) {
      const named = e instanceof NotSupportedError && e.message.includes("--unstable-net");
      return {
        netconn: `without --unstable-net: ${describe(e)} naming the flag; the process goes on`,
        raw: "Deno.listen({ reusePort: true }) exits the process (code 70)",
        numbers: { shared: 0 },
        ok: named,
      };
    }
    const second = track(listen(`${LOOPBACK}:${first.addr.port}`, { reusePort: true }));
    const dials = 20;
    const counts = [0, 0];
    const serving = [first, second].map(async (ln, i) => {
      for await (const conn of ln) {
        counts[i]!++;
        conn.close();
      }
    });
    for (let i = 0; i < dials; i++) {
      const conn = await lab.dial(first.addr);
      await failure(conn.read(new Uint8Array(1))); // EOF once a listener has served it
      conn.close();
    }
    first.close();
    second.close();
    await Promise.all(serving);
    return {
      netconn: `two listeners on port ${first.addr.port}; ${dials} dials → ` +
        `${counts[0]} + ${counts[1]} accepted`,
      numbers: { shared: 1, dials, first: counts[0]!, second: counts[1]! },
      ok: counts[0]! + counts[1]! === dials,
    };
  },
};

/** The listener rows, after the socket options. */
export const listenExperiments: Experiment[] = [backlogDefault, backlogN, reusePort];
