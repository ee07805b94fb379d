/**
 * The command-line form of {@linkcode FaultProxy}: put faults in front of any
 * TCP server.
 *
 * ```sh
 * deno task proxy --upstream 127.0.0.1:6379 --listen 127.0.0.1:7000 --latency 100 --jitter 10
 * redis-cli -p 7000 ping    # PONG, 100 ± 10 ms later
 * ```
 *
 * With `--api HOST:PORT` it serves toxiproxy's REST API instead
 * ({@linkcode Toxiproxy}), so toxiproxy's clients create the proxies:
 *
 * ```sh
 * deno task proxy --api 127.0.0.1:8474
 * ```
 *
 * It prints the address it listens on (one line on stdout, so scripts can
 * read it), then runs until Ctrl-C (SIGINT) or SIGTERM, and prints its stats
 * on stderr as it stops. A bad flag, a bad value (addresses included) or a
 * flag given twice prints the usage on stderr and exits 2.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Direction, type Fault, FaultProxy, type FaultProxyStats } from "./fault_proxy.ts";
import { Toxiproxy } from "./toxiproxy.ts";
import { parseAddress } from "../address.ts";

/** The usage text. */
export const USAGE =
  `Usage: deno task proxy --upstream HOST:PORT [--listen HOST:PORT] [--seed N] [faults]
       deno task proxy --api HOST:PORT [--seed N]

  --upstream HOST:PORT   the server to forward to (required without --api)
  --listen HOST:PORT     where to listen (default 127.0.0.1:0: a free port)
  --api HOST:PORT        serve toxiproxy's REST API there instead (toxiproxy's
                         default is 127.0.0.1:8474); its clients make the proxies
  --seed N               the seed of every random draw (jitter, slice sizes,
                         toxicity), 0 to 4294967295: the same seed replays a run
  --direction WAY        upstream (client->server), downstream or both (default);
                         applies to every fault below
  --latency MS           delay every chunk by MS milliseconds
  --jitter MS            ... plus or minus up to MS (with --latency)
  --bandwidth BYTES      cap the rate at BYTES a second
  --slice BYTES          forward in writes of at most BYTES
  --slice-variation BYTES  ... each plus or minus up to BYTES (with --slice)
  --slice-delay MS       ... MS milliseconds apart (with --slice)
  --silence              forward nothing (conns stay open)
  --cut BYTES            send FIN after BYTES, discard the rest
  --reset-after BYTES    reset each conn after BYTES
  --reset-ms MS          reset each conn MS milliseconds after it opens
  --refuse               close new conns at once
  --slow-close MS        pass each FIN on MS milliseconds late
  --timeout MS           drop data, close each conn after MS (0: never)
  --limit-data BYTES     close each conn after BYTES
  --help                 print this and exit

Each flag is given at most once. The listen (or API) address is printed on
stdout; stats go to stderr on Ctrl-C.`;

/** What the command line asks for: a proxy with faults. */
export interface ProxyArgs {
  upstream: string;
  listen: string;
  faults: Fault[];
  seed?: number;
}

/** What the command line asks for: toxiproxy's API. */
export interface ApiArgs {
  api: string;
  seed?: number;
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
 * @throws {UsageError} On an unknown flag, a flag given twice, a missing
 *   value, a bad number or a malformed address.
 */
export function parseProxyArgs(args: string[]): ProxyArgs | ApiArgs | "help" {
  let values;
  let tokens;
  try {
    ({ values, tokens } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      tokens: true,
      options: {
        upstream: { type: "string" },
        listen: { type: "string", default: "127.0.0.1:0" },
        api: { type: "string" },
        seed: { type: "string" },
        "slice-variation": { type: "string" },
        timeout: { type: "string" },
        "limit-data": { type: "string" },
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
  const seen = new Set<string>();
  for (const token of tokens ?? []) {
    if (token.kind !== "option") continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`);
    seen.add(token.name);
  }
  if (values.help) return "help";
  const num = (flag: keyof typeof values): number | undefined => {
    const text = values[flag];
    if (typeof text !== "string") return undefined;
    if (!NUMBER.test(text)) throw new UsageError(`--${flag} takes a number: received "${text}"`);
    return Number(text);
  };
  const seed = num("seed");
  if (seed !== undefined && !(Number.isInteger(seed) && seed <= 0xffffffff)) {
    throw new UsageError(`--seed takes an integer from 0 to 4294967295: received "${values.seed}"`);
  }
  const withSeed = seed === undefined ? {} : { seed };
  if (values.api !== undefined) {
    const others = [...seen].filter((f) => f !== "api" && f !== "seed");
    if (others.length > 0) {
      throw new UsageError(
        `--api takes no --${others[0]}: create proxies and toxics through the API`,
      );
    }
    address(values.api, "--api", "listen");
    return { api: values.api, ...withSeed };
  }
  if (values.upstream === undefined) throw new UsageError("--upstream is required");
  address(values.upstream, "--upstream", "dial");
  address(values.listen, "--listen", "listen");
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
  const sliceVariation = num("slice-variation");
  if (sliceDelay !== undefined && slice === undefined) {
    throw new UsageError("--slice-delay needs --slice");
  }
  if (sliceVariation !== undefined && slice === undefined) {
    throw new UsageError("--slice-variation needs --slice");
  }
  if (slice !== undefined) {
    faults.push({
      kind: "slice",
      size: slice,
      ...(sliceVariation === undefined ? {} : { sizeVariation: sliceVariation }),
      delay: sliceDelay ?? 0,
      direction,
    });
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
  const timeout = num("timeout");
  if (timeout !== undefined) faults.push({ kind: "timeout", ms: timeout, direction });
  const limit = num("limit-data");
  if (limit !== undefined) faults.push({ kind: "limit-data", bytes: limit, direction });
  return { upstream: values.upstream, listen: values.listen, faults, ...withSeed };
}

/** Checks an address flag as listen() or dial() would parse it. */
function address(text: string, flag: string, op: "listen" | "dial"): void {
  try {
    const { port } = parseAddress(text, op);
    if (op === "dial" && port === 0) throw new Error("port 0 cannot be dialed");
  } catch (e) {
    throw new UsageError(`${flag} takes HOST:PORT: "${text}": ${(e as Error).message}`);
  }
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
  let parsed: ProxyArgs | ApiArgs | "help";
  let proxy: FaultProxy;
  try {
    parsed = parseProxyArgs(args);
    if (parsed === "help") {
      console.log(USAGE);
      return 0;
    }
    if ("api" in parsed) return await serveApi(parsed);
    proxy = new FaultProxy(parsed.upstream, {
      listen: parsed.listen,
      faults: parsed.faults,
      ...(parsed.seed === undefined ? {} : { seed: parsed.seed }),
    });
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
  console.error(
    `proxy: forwarding to ${parsed.upstream}; seed ${proxy.seed}; faults: ${faults}`,
  );
  try {
    await signalled();
  } finally {
    const stats = proxy.stats();
    await proxy[Symbol.asyncDispose]();
    console.error(`proxy: stopped; ${statsLine(stats)}`);
  }
  return 0;
}

/** Serves toxiproxy's API until SIGINT or SIGTERM. */
async function serveApi(parsed: ApiArgs): Promise<number> {
  const toxiproxy = new Toxiproxy(parsed.seed === undefined ? {} : { seed: parsed.seed });
  let addr: Deno.NetAddr;
  try {
    addr = toxiproxy.serve(parsed.api);
  } catch (e) {
    await toxiproxy.close();
    throw e;
  }
  const bound = addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
  console.log(bound);
  console.error(`proxy: toxiproxy's API on http://${bound}; seed ${toxiproxy.seed}`);
  try {
    await signalled();
  } finally {
    await toxiproxy.close();
    console.error("proxy: stopped");
  }
  return 0;
}

/** Resolves at the first SIGINT or SIGTERM. */
async function signalled(): Promise<void> {
  const stop = Promise.withResolvers<void>();
  const signals = ["SIGINT", "SIGTERM"] as const;
  const onSignal = () => stop.resolve();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    await stop.promise;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
