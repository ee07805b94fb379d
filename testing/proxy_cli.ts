/**
 * The command-line form of {@linkcode FaultProxy}: put faults in front of any
 * TCP server.
 *
 * ```sh
 * deno task proxy --upstream 127.0.0.1:6379 --listen 127.0.0.1:7000 --latency 100 --jitter 10
 * redis-cli -p 7000 ping    # PONG, 100 ± 10 ms later
 * ```
 *
 * It prints the address it listens on (one line on stdout, so scripts can
 * read it), then runs until Ctrl-C (SIGINT) or SIGTERM, and prints its stats
 * on stderr as it stops. Bad flags print the usage on stderr and exit 2.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Direction, type Fault, FaultProxy, type FaultProxyStats } from "./fault_proxy.ts";

/** The usage text. */
export const USAGE = `Usage: deno task proxy --upstream HOST:PORT [--listen HOST:PORT] [faults]

  --upstream HOST:PORT   the server to forward to (required)
  --listen HOST:PORT     where to listen (default 127.0.0.1:0: a free port)
  --direction WAY        upstream (client->server), downstream or both (default);
                         applies to every fault below
  --latency MS           delay every chunk by MS milliseconds
  --jitter MS            ... plus or minus up to MS (with --latency)
  --bandwidth BYTES      cap the rate at BYTES a second
  --slice BYTES          forward in writes of at most BYTES
  --slice-delay MS       ... MS milliseconds apart (with --slice)
  --silence              forward nothing (conns stay open)
  --cut BYTES            send FIN after BYTES, discard the rest
  --reset-after BYTES    reset each conn after BYTES
  --reset-ms MS          reset each conn MS milliseconds after it opens
  --refuse               close new conns at once
  --slow-close MS        pass each FIN on MS milliseconds late
  --help                 print this and exit

The listen address is printed on stdout; stats go to stderr on Ctrl-C.`;

/** What the command line asks for. */
export interface ProxyArgs {
  upstream: string;
  listen: string;
  faults: Fault[];
}

/** A bad command line; its message says what is wrong. */
export class UsageError extends Error {
  /** @param message What is wrong with the command line. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * Parses the flags into the proxy's upstream, listen address and faults.
 *
 * @param args The command-line arguments, without the program.
 * @returns The parsed arguments, or `"help"` for `--help`.
 * @throws {UsageError} On an unknown flag, a missing value or a bad number.
 */
export function parseProxyArgs(args: string[]): ProxyArgs | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        upstream: { type: "string" },
        listen: { type: "string", default: "127.0.0.1:0" },
        direction: { type: "string", default: "both" },
        latency: { type: "string" },
        jitter: { type: "string" },
        bandwidth: { type: "string" },
        slice: { type: "string" },
        "slice-delay": { type: "string" },
        silence: { type: "boolean" },
        cut: { type: "string" },
        "reset-after": { type: "string" },
        "reset-ms": { type: "string" },
        refuse: { type: "boolean" },
        "slow-close": { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return "help";
  if (values.upstream === undefined) throw new UsageError("--upstream is required");
  const num = (flag: keyof typeof values): number | undefined => {
    const text = values[flag];
    if (typeof text !== "string") return undefined;
    if (!NUMBER.test(text)) throw new UsageError(`--${flag} takes a number: received "${text}"`);
    return Number(text);
  };
  const direction = values.direction as Direction;
  if (!["upstream", "downstream", "both"].includes(direction)) {
    throw new UsageError(`--direction is upstream, downstream or both: received "${direction}"`);
  }
  const faults: Fault[] = [];
  const latency = num("latency"), jitter = num("jitter");
  if (jitter !== undefined && latency === undefined) {
    throw new UsageError("--jitter needs --latency");
  }
  if (latency !== undefined) {
    faults.push({ kind: "latency", ms: latency, jitter: jitter ?? 0, direction });
  }
  const bandwidth = num("bandwidth");
  if (bandwidth !== undefined) {
    faults.push({ kind: "bandwidth", bytesPerSecond: bandwidth, direction });
  }
  const slice = num("slice"), sliceDelay = num("slice-delay");
  if (sliceDelay !== undefined && slice === undefined) {
    throw new UsageError("--slice-delay needs --slice");
  }
  if (slice !== undefined) {
    faults.push({ kind: "slice", size: slice, delay: sliceDelay ?? 0, direction });
  }
  if (values.silence) faults.push({ kind: "silence", direction });
  const cut = num("cut");
  if (cut !== undefined) faults.push({ kind: "cut", after: cut, direction });
  const resetAfter = num("reset-after"), resetMs = num("reset-ms");
  if (resetAfter !== undefined || resetMs !== undefined) {
    faults.push({
      kind: "reset",
      ...(resetAfter === undefined ? {} : { after: resetAfter }),
      ...(resetMs === undefined ? {} : { afterMs: resetMs }),
      direction,
    });
  }
  if (values.refuse) faults.push({ kind: "refuse" });
  const slowClose = num("slow-close");
  if (slowClose !== undefined) faults.push({ kind: "slow-close", ms: slowClose, direction });
  return { upstream: values.upstream, listen: values.listen, faults };
}

/** The stats, one line. */
function statsLine(s: FaultProxyStats): string {
  return `conns ${s.accepted} (refused ${s.refused}, reset ${s.resets}, upstream failed ` +
    `${s.upstreamFailures}), bytes up ${s.bytesUpstream}, down ${s.bytesDownstream}`;
}

/**
 * Runs the proxy until SIGINT or SIGTERM.
 *
 * @param args The command-line arguments.
 * @returns The exit code: 0 after a signal, 2 on a bad command line, 1 if
 *   the proxy cannot start.
 */
export async function main(args: string[]): Promise<number> {
  let parsed: ProxyArgs | "help";
  let proxy: FaultProxy;
  try {
    parsed = parseProxyArgs(args);
    if (parsed === "help") {
      console.log(USAGE);
      return 0;
    }
    proxy = new FaultProxy(parsed.upstream, { listen: parsed.listen, faults: parsed.faults });
  } catch (e) {
    if (e instanceof UsageError || e instanceof TypeError || e instanceof RangeError) {
      console.error(`proxy: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`proxy: ${(e as Error).message}`);
    return 1;
  }
  const { hostname, port } = proxy.addr;
  console.log(hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`);
  const faults = parsed.faults.map((f) => JSON.stringify(f)).join(", ") || "none";
  console.error(`proxy: forwarding to ${parsed.upstream}; faults: ${faults}`);
  const stop = Promise.withResolvers<void>();
  const signals = ["SIGINT", "SIGTERM"] as const;
  const onSignal = () => stop.resolve();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    await stop.promise;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    const stats = proxy.stats();
    await proxy[Symbol.asyncDispose]();
    console.error(`proxy: stopped; ${statsLine(stats)}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
