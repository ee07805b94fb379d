/**
 * The listener rows: the default backlog (somaxconn, as Go), what backlog n
 * means while nobody accepts, and `reusePort` without `--unstable-net`.
 *
 * @module
 */

import { type Conn, listen, NetError, NotSupportedError } from "../mod.ts";
import type { GoResult } from "./_go.ts";
import { listenerFd } from "../sockopt/mod.ts";
import type { Experiment, Lab, Outcome } from "./_lab.ts";
import { LOOPBACK } from "../_kit/loopback.ts";
import { describe, kindOf } from "./_cells.ts";
import { agreement, both, same } from "./_agree.ts";
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

const REUSE_PORT = new URL("./_reuse_port.ts", import.meta.url).pathname;

/**
 * reusePort: in this process (no --unstable-net) a NotSupportedError naming
 * the flag; in a child process run with --unstable-net (needs --allow-run),
 * two listeners share a port, measured beside Go's two SO_REUSEPORT
 * listeners (ListenConfig.Control).
 */
export const reusePort: Experiment = {
  name: "listen: reusePort",
  go: "SO_REUSEPORT (ListenConfig.Control): listeners share one port",
  goCase: "reuseport",
  compare: (go, ours) =>
    agreement(
      // Sharing without the flag is the decision's (reusePortFlag): shown side by side.
      [ours.numbers.shared === 0 || go.numbers.shared === 1, sharedText(go, ours)],
      ...(ours.numbers.shared === 1
        ? [
          both(
            "both listeners accepted",
            go.numbers.first! > 0 && go.numbers.second! > 0,
            ours.numbers.first! > 0 && ours.numbers.second! > 0,
          ),
        ]
        : []),
    ),
  decision: (ours, go) =>
    ours.numbers.shared === 1 || (go !== undefined && go.numbers.shared !== 1)
      ? undefined
      : "reusePort needs Deno's --unstable-net, which this run could not use (a child process " +
        "needs --allow-run): without it netconn throws NotSupportedError naming the flag " +
        "(docs/sockopt.md)",
  async run(lab: Lab): Promise<Outcome> {
    let refused: unknown;
    try {
      const ln = listen(`${LOOPBACK}:0`, { reusePort: true });
      lab.track(ln, () => ln[Symbol.asyncDispose]());
    } catch (e) {
      refused = e;
    }
    const named = refused instanceof NotSupportedError &&
      refused.message.includes("--unstable-net");
    const here = refused === undefined
      ? "reusePort allowed in this process"
      : `without --unstable-net: ${describe(refused)}${named ? " naming the flag" : ""}; the ` +
        "process goes on";
    const raw =
      "Deno.listen({ reusePort: true }) without --unstable-net exits the process (code 70)";
    if (Deno.permissions.querySync({ name: "run" }).state !== "granted") {
      return { netconn: here, raw, numbers: { shared: 0 }, ok: named };
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--unstable-net", "--allow-net", REUSE_PORT],
      stdout: "piped",
      stderr: "piped",
      signal: lab.signal,
    }).output();
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim() || "{}") as {
      dials?: number;
      first?: number;
      second?: number;
      error?: string;
    };
    if (result.first === undefined || result.second === undefined) {
      throw new Error(`the --unstable-net child failed: ${result.error ?? "no output"}`);
    }
    const { first, second, dials = 0 } = result;
    return {
      netconn: `${here}; with --unstable-net (a child process): two listeners on one port, ` +
        `${dials} dials → ${first} + ${second} accepted`,
      raw,
      numbers: { shared: 1, dials, first, second },
      ok: (refused === undefined || named) && first + second === dials,
    };
  },
};

function sharedText(go: GoResult, ours: Outcome): string {
  const word = (n: number | undefined): string => n === 1 ? "yes" : "no";
  return `listeners share a port: Go ${word(go.numbers.shared)}, netconn ${
    word(ours.numbers.shared)
  }`;
}

/** The listener rows, after the socket options. */
export const listenExperiments: Experiment[] = [backlogDefault, backlogN, reusePort];
