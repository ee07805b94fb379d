/**
 * The pages of docs/measured/: a table the probe or the bench measured,
 * written with the machine it ran on named, so that no figure is pasted by
 * hand. Naming the machine reads /proc/cpuinfo and /etc/os-release
 * (`--allow-read`); writing needs `--allow-write`. Private to the repository.
 *
 * @module
 */

/** The machine a run measured on. */
export interface Machine {
  /** The OS, e.g. `"Debian GNU/Linux 12 (bookworm), linux 6.1.0 x86_64"`. */
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
 * an earlier run wrote.
 *
 * @returns The path written.
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
  return file.pathname;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    return m?.[1]?.trim() ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

function osName(): string {
  const { os, arch } = Deno.build;
  let release = "";
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "osRelease" }).state === "granted") {
      release = ` ${Deno.osRelease()}`;
    }
  } catch {
    // Not this runtime's permission: leave the kernel release out.
  }
  let pretty = "";
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(Deno.readTextFileSync("/etc/os-release"));
    if (m?.[1] !== undefined) pretty = `${m[1]}, `;
  } catch {
    // No /etc/os-release (not Linux), or no --allow-read.
  }
  return `${pretty}${os}${release} ${arch}`;
}
