/**
 * The pages of docs/measured/: a table the probe or the bench measured,
 * written with the machine it ran on named, so that no figure is pasted by
 * hand. Naming the machine reads /proc/cpuinfo, /proc/version and
 * /etc/os-release (`--allow-read`, and `--allow-run` for the /proc files,
 * which Deno reads only under `--allow-all`); writing needs `--allow-write`.
 * Private to the repository.
 *
 * @module
 */

/** The machine a run measured on. */
export interface Machine {
  /** The OS, e.g. `"Debian GNU/Linux 12 (bookworm), linux 6.1.0-18-amd64 x86_64"`. */
  os: string;
  /** The CPU's model name, from /proc/cpuinfo. */
  cpu: string;
  /** Logical cores the runtime sees. */
  cores: number;
  /** `deno x.y.z (V8 a.b.c)`. */
  deno: string;
  /** What `go version` printed, when Go was measured. */
  go?: string;
  /** When the run ended, UTC, to the minute. */
  date: string;
}

/** The directory of the measured pages. */
export const MEASURED_DIR: URL = new URL("../docs/measured/", import.meta.url);

/** The machine this process runs on; `go` is the `go version` of a run that measured Go. */
export function machine(go?: string): Machine {
  return {
    os: osName(),
    cpu: cpuModel(),
    cores: navigator.hardwareConcurrency,
    deno: `deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
    ...(go === undefined ? {} : { go }),
    date: `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
  };
}

/** The machine in one line, for the top of a printed table. */
export function machineLine(m: Machine): string {
  const go = m.go === undefined ? "" : `; ${m.go}`;
  return `${m.cpu}, ${m.cores} cores; ${m.os}; ${m.deno}${go}; ${m.date}`;
}

/** What a measured page holds. */
export interface MeasuredPage {
  /** The page's title. */
  title: string;
  /** The command that wrote it, e.g. `deno task probe --write-docs`. */
  command: string;
  /** The machine it measured on. */
  machine: Machine;
  /** The page's Markdown below the machine: tables and notes. */
  body: string;
}

/**
 * Writes `page` to docs/measured/`name` (e.g. `"probe.md"`), replacing what
 * an earlier run wrote, and formats it with `deno fmt` (the repository's
 * settings) so that `deno fmt --check` passes; that needs `--allow-run`.
 *
 * @returns The path written.
 * @throws {Error} If `deno fmt` could not format the page.
 */
export async function writeMeasured(name: string, page: MeasuredPage): Promise<string> {
  const m = page.machine;
  const rows = [
    ["OS", m.os],
    ["CPU", m.cpu],
    ["cores", String(m.cores)],
    ["Deno", m.deno],
    ...(m.go === undefined ? [] : [["Go", m.go]]),
    ["date", m.date],
  ];
  const text = [
    `# ${page.title}`,
    "",
    `Written by \`${page.command}\`; run it again to measure your machine. Do not edit by hand.`,
    "",
    "| machine | |",
    "| --- | --- |",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    "",
    page.body.trimEnd(),
    "",
  ].join("\n");
  await Deno.mkdir(MEASURED_DIR, { recursive: true });
  const file = new URL(name, MEASURED_DIR);
  await Deno.writeTextFile(file, text);
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", file.pathname],
    cwd: new URL("../", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!fmt.success) {
    throw new Error(`deno fmt ${file.pathname} failed: ${new TextDecoder().decode(fmt.stderr)}`);
  }
  return file.pathname;
}

function cpuModel(): string {
  const m = /^model name\s*:\s*(.+)$/m.exec(procText("/proc/cpuinfo"));
  return m?.[1]?.trim() ?? "unknown CPU";
}

function osName(): string {
  const { os, arch } = Deno.build;
  const kernel = /^Linux version (\S+)/.exec(procText("/proc/version"))?.[1];
  let pretty = "";
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(Deno.readTextFileSync("/etc/os-release"));
    if (m?.[1] !== undefined) pretty = `${m[1]}, `;
  } catch {
    // No /etc/os-release (not Linux), or no --allow-read.
  }
  return `${pretty}${os}${kernel === undefined ? "" : ` ${kernel}`} ${arch}`;
}

/**
 * A file under /proc, or "" when it cannot be read. Deno reads /proc files
 * only under --allow-all; with --allow-run, `cat` reads them instead.
 */
function procText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    // Not readable by Deno with these permissions: try cat.
  }
  try {
    const out = new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout) : "";
  } catch {
    return "";
  }
}
