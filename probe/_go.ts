/**
 * Go beside netconn: runs the cases of the probe's Go program (`go/probe/`,
 * built by the kit's buildGo), alone or as the peer of a netconn conn.
 * Internal to the probe.
 *
 * @module
 */

import { lines, output } from "../_kit/child.ts";
import type { GoBuild } from "../_kit/go.ts";

/** What one case of the Go program measured: its one JSON line. */
export interface GoResult {
  /** The case, e.g. `"write-blocking"`. */
  case: string;
  /** What happened, in a few words with the numbers. */
  text: string;
  /** The measured numbers, by name (the netconn row's names where they mean the same). */
  numbers: Record<string, number>;
  /** Measured words, by name, e.g. `{ error: "timeout" }` (netconn's error kinds). */
  facts?: Record<string, string>;
  /** Why the case failed, if it did. */
  error?: string;
}

/** The repository's test certificates, for the TLS cases (`-certs`). */
const CERTS = decodeURIComponent(new URL("../tests/certs/", import.meta.url).pathname);

/** How long one Go case may run before it is killed. */
const CASE_LIMIT_MS = 15_000;

/** What runs Go cases for the probe: a {@linkcode GoRunner}, or a test's stand-in. */
export interface GoCases {
  /** Runs a case alone; the same case again only when `again` is set. */
  run(goCase: string, options?: { again?: boolean }): Promise<GoResult>;
  /** Starts a case as the peer of a netconn conn. */
  spawn(goCase: string, addr?: string): GoPeer;
}

/**
 * Runs the built Go program's cases. A case run alone ({@linkcode run}) is
 * run once and remembered, as several rows compare with it.
 */
export class GoRunner implements GoCases {
  #build: GoBuild;
  #results = new Map<string, Promise<GoResult>>();

  /** A runner for `build`'s program. */
  constructor(build: GoBuild) {
    this.#build = build;
  }

  /** The build this runner runs. */
  get build(): GoBuild {
    return this.#build;
  }

  /**
   * Runs `goCase` alone (it makes its own loopback conns), once per runner
   * unless `again` asks for a new measurement.
   *
   * @returns What it measured; `error` says why when it failed.
   */
  run(goCase: string, options: { again?: boolean } = {}): Promise<GoResult> {
    let result = this.#results.get(goCase);
    if (result === undefined || options.again) {
      result = this.#runOnce(goCase);
      this.#results.set(goCase, result);
    }
    return result;
  }

  async #runOnce(goCase: string): Promise<GoResult> {
    try {
      const out = await output([this.#build.binary, "-case", goCase, "-certs", CERTS], {
        signal: AbortSignal.timeout(CASE_LIMIT_MS),
        allowFailure: true,
      });
      return lastResult(goCase, out);
    } catch (e) {
      return { case: goCase, text: `failed: ${message(e)}`, numbers: {}, error: message(e) };
    }
  }

  /**
   * Starts `goCase` as the peer of a netconn conn: a server case ("serve-*")
   * prints its port first; a client case dials `addr`. Close the peer (or
   * the lab that tracks it) to kill it if it has not ended.
   */
  spawn(goCase: string, addr?: string): GoPeer {
    const args = ["-case", goCase, "-certs", CERTS, ...(addr === undefined ? [] : ["-addr", addr])];
    return new GoPeer(this.#build.binary, args);
  }
}

/** A running case of the Go program, the peer of a netconn conn. */
export class GoPeer {
  #child: Deno.ChildProcess;
  #lines: Promise<string[]>;
  #port: Promise<number>;
  #stdinOpen = true;
  #result: Promise<GoResult> | undefined;

  /** Starts `binary` with `args`. */
  constructor(binary: string, args: string[]) {
    this.#child = new Deno.Command(binary, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let portFound: (port: number) => void = () => {};
    this.#port = new Promise((resolve) => portFound = resolve);
    this.#lines = collectLines(this.#child.stdout, (line) => {
      const port = (JSON.parse(line) as { port?: unknown }).port;
      if (typeof port === "number") portFound(port);
    });
    // A server that never prints its port fails the row at its time limit;
    // once the output has ended, say so at once instead.
    const ended = this.#lines.then(() => Promise.reject(new Error("the Go peer ended")));
    ended.catch(() => {});
    this.#port = Promise.race([this.#port, ended]);
    this.#port.catch(() => {}); // a client case never says a port: not an unhandled rejection
  }

  /** The port a server case listens on, once it has said. */
  port(): Promise<number> {
    return this.#port;
  }

  /** Closes the peer's stdin: a server case then stops waiting (and drains). */
  async endInput(): Promise<void> {
    if (!this.#stdinOpen) return;
    this.#stdinOpen = false;
    await this.#child.stdin.close().catch(() => {});
  }

  /** What the case measured, once it has ended. */
  result(): Promise<GoResult> {
    this.#result ??= this.#ended();
    return this.#result;
  }

  async #ended(): Promise<GoResult> {
    const [lines, status, stderr] = await Promise.all([
      this.#lines,
      this.#child.status,
      new Response(this.#child.stderr).text(),
    ]);
    const text = lines.join("\n");
    if (!status.success && !text.includes('"case"')) {
      throw new Error(`Go peer exited with ${status.code}: ${stderr.trim().split("\n")[0]}`);
    }
    return lastResult(String(this.#child.pid), text);
  }

  /** Ends the peer: closes its stdin, kills it if it still runs, waits for it. */
  async close(): Promise<void> {
    await this.endInput();
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // It has ended already.
    }
    await this.result().catch(() => {});
  }
}

/** Reads `stream` to its end as lines, calling `onLine` for each. */
async function collectLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<string[]> {
  const all: string[] = [];
  for await (const line of lines(stream)) {
    all.push(line);
    try {
      onLine(line);
    } catch {
      // Not JSON: kept in the lines, ignored here.
    }
  }
  return all;
}

/** The last JSON line of `out` with a case in it. */
function lastResult(goCase: string, out: string): GoResult {
  const line = out.trim().split("\n").reverse().find((l) => l.includes('"case"'));
  if (line === undefined) throw new Error(`Go case ${goCase} printed no result`);
  const result = JSON.parse(line) as GoResult;
  result.numbers ??= {};
  return result;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
