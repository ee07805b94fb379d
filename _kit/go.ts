/**
 * Go beside netconn: finds `go` on PATH and builds a command of the
 * repository's Go module (`go/`: `probe` for the probe, `compare` for the
 * peers comparison) once into a cache directory, keyed by the module's
 * sources and the Go version. Needs `--allow-run --allow-read --allow-write
 * --allow-env`. Private to the repository.
 *
 * @module
 */

import { output } from "./child.ts";

/** The Go toolchain found and a command built with it. */
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

/** The commands of the Go module. */
export type GoCommand = "probe" | "compare" | "pipe";

/** The Go module's root. */
export const GO_MODULE: URL = new URL("../go/", import.meta.url);

const APT = "install Go (Debian, Ubuntu: `apt-get install golang-go`) and run again";

/** Options for {@linkcode buildGo}. */
export interface BuildGoOptions {
  /** The PATH searched for `go` instead of the process's (tests hide Go with it). */
  path?: string;
  /** What to run to get the permissions building needs. @default {"`deno task probe`"} */
  task?: string;
}

/**
 * Finds `go` on PATH and builds `command`, or uses the binary a build of the
 * same sources with the same Go left in the cache directory.
 *
 * @returns The build, or why Go is not measured.
 */
export async function buildGo(
  command: GoCommand,
  options: BuildGoOptions = {},
): Promise<GoBuild | GoMissing> {
  const missing = (["run", "read", "write", "env"] as const).filter((name) =>
    Deno.permissions.querySync({ name }).state !== "granted"
  );
  if (missing.length > 0) {
    const flags = missing.map((m) => `--allow-${m}`).join(" ");
    return {
      reason: `building Go needs ${flags}`,
      remedy: `run ${options.task ?? "`deno task probe`"}`,
    };
  }
  const env: Record<string, string> = { GOTOOLCHAIN: "local", GOFLAGS: "-buildvcs=false" };
  if (options.path !== undefined) env.PATH = options.path;
  let version: string;
  try {
    version = (await output(["go", "version"], { env })).trim();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { reason: "go is not on PATH", remedy: APT };
    return { reason: `go version failed: ${message(e)}`, remedy: APT };
  }
  const dir = cacheDir();
  const binary = `${dir}/${command}-${await sourceKey(version)}`;
  if (await exists(binary)) return { version, binary, buildMs: 0, cached: true };
  await Deno.mkdir(dir, { recursive: true });
  if (Deno.env.get("HOME") === undefined && Deno.env.get("GOCACHE") === undefined) {
    env.GOCACHE = `${dir}/gocache`;
  }
  const start = performance.now();
  const partial = `${binary}.${Deno.pid}.tmp`;
  try {
    await output(["go", "build", "-o", partial, `./${command}`], { env, cwd: GO_MODULE });
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

/** Where built binaries are kept: `$XDG_CACHE_HOME` or `~/.cache`, else the temp dir. */
function cacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const base = xdg ?? (home === undefined ? tmp : `${home}/.cache`);
  return `${base}/netconn-go`;
}

/** A hash of the module's sources and the Go version: a new build when either changes. */
async function sourceKey(version: string): Promise<string> {
  const names: string[] = [];
  const walk = async (dir: URL, prefix: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
      else if (entry.isFile && (entry.name.endsWith(".go") || entry.name === "go.mod")) {
        names.push(`${prefix}${entry.name}`);
      }
    }
  };
  await walk(GO_MODULE, "");
  names.sort();
  let all = version;
  for (const name of names) {
    all += `\0${name}\0${await Deno.readTextFile(new URL(name, GO_MODULE))}`;
  }
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
