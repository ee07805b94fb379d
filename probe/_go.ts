/**
 * Go beside netconn: finds `go` on PATH, builds the probe's Go programs
 * (`probe/go/`) once into a cache directory, and runs their cases, alone or
 * as the peer of a netconn conn. Internal to the probe.
 *
 * @module
 */

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

/** The Go toolchain found and the probe's program built with it. */
export interface GoBuild {
  /** What `go version` printed, e.g. `"go version go1.19.8 linux/amd64"`. */
  version: string;
  /** The built program. */
  binary: string;
  /** How long the build took in ms; 0 when the cached binary was used. */
  buildMs: number;
  /** True when a binary built earlier from the same sources was used. */
  cached: boolean;
}

/** Why Go is not measured, and what would make it so. */
export interface GoMissing {
  /** Why, in a sentence. */
  reason: string;
  /** What to do to get the measured form. */
  remedy: string;
}

/** The Go sources, beside this file. */
const SOURCES = new URL("./go/", import.meta.url);

/** How long one Go case may run before it is killed. */
const CASE_LIMIT_MS = 15_000;

const APT = "install Go (Debian, Ubuntu: `apt-get install golang-go`) and run the probe again";

/**
 * Finds `go` on PATH and builds the probe's Go program, or uses the binary a
 * build of the same sources with the same Go left in the cache directory.
 *
 * @param options `path` overrides the PATH searched (tests hide Go with it).
 * @returns The build, or why Go is not measured.
 */
export async function buildGo(options: { path?: string } = {}): Promise<GoBuild | GoMissing> {
  const missing = (["run", "read", "write", "env"] as const).filter((name) =>
    Deno.permissions.querySync({ name }).state !== "granted"
  );
  if (missing.length > 0) {
    const flags = missing.map((m) => `--allow-${m}`).join(" ");
    return { reason: `building Go needs ${flags}`, remedy: "run `deno task probe`" };
  }
  const env: Record<string, string> = { GOTOOLCHAIN: "local" };
  if (options.path !== undefined) env.PATH = options.path;
  let version: string;
  try {
    version = (await output(["go", "version"], { env })).trim();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { reason: "go is not on PATH", remedy: APT };
    return { reason: `go version failed: ${message(e)}`, remedy: APT };
  }
  const dir = cacheDir();
  const binary = `${dir}/probe-${await sourceKey(version)}`;
  if (await exists(binary)) return { version, binary, buildMs: 0, cached: true };
  await Deno.mkdir(dir, { recursive: true });
  if (Deno.env.get("HOME") === undefined && Deno.env.get("GOCACHE") === undefined) {
    env.GOCACHE = `${dir}/gocache`;
  }
  const start = performance.now();
  const partial = `${binary}.${Deno.pid}.tmp`;
  try {
    await output(["go", "build", "-o", partial, "."], { env, cwd: SOURCES });
    await Deno.rename(partial, binary);
  } catch (e) {
    await Deno.remove(partial).catch(() => {});
    return { reason: `go build failed: ${message(e)}`, remedy: "report it with `go version`" };
  }
  return { version, binary, buildMs: Math.round(performance.now() - start), cached: false };
}

/** True for a {@linkcode GoBuild}, false for {@linkcode GoMissing}. */
export function isBuilt(go: GoBuild | GoMissing): go is GoBuild {
  return "binary" in go;
}

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
      const out = await output([this.#build.binary, "-case", goCase], {
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
    const args = ["-case", goCase, ...(addr === undefined ? [] : ["-addr", addr])];
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
  const lines: string[] = [];
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      try {
        onLine(line);
      } catch {
        // Not JSON: kept in the lines, ignored here.
      }
    }
  }
  if (rest !== "") lines.push(rest);
  return lines;
}

/** The last JSON line of `out` with a case in it. */
function lastResult(goCase: string, out: string): GoResult {
  const line = out.trim().split("\n").reverse().find((l) => l.includes('"case"'));
  if (line === undefined) throw new Error(`Go case ${goCase} printed no result`);
  const result = JSON.parse(line) as GoResult;
  result.numbers ??= {};
  return result;
}

/** Runs a command to its end; its stdout, or an error with its stderr's first line. */
async function output(
  cmd: string[],
  options: {
    env?: Record<string, string>;
    cwd?: URL;
    signal?: AbortSignal;
    allowFailure?: boolean;
  } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }).output();
  const text = new TextDecoder();
  if (!out.success && !options.allowFailure) {
    const why = text.decode(out.stderr).trim().split("\n").slice(0, 3).join("; ");
    throw new Error(`${cmd.slice(0, 2).join(" ")} exited with ${out.code}: ${why}`);
  }
  return text.decode(out.stdout);
}

/** Where built binaries are kept: `$XDG_CACHE_HOME` or `~/.cache`, else the temp dir. */
function cacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const base = xdg ?? (home === undefined ? tmp : `${home}/.cache`);
  return `${base}/netconn-probe`;
}

/** A hash of the Go sources and the Go version: a new build when either changes. */
async function sourceKey(version: string): Promise<string> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(SOURCES)) {
    if (entry.isFile && (entry.name.endsWith(".go") || entry.name === "go.mod")) {
      names.push(entry.name);
    }
  }
  names.sort();
  let all = version;
  for (const name of names) all += `\0${name}\0${await Deno.readTextFile(new URL(name, SOURCES))}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(all));
  return [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
