/**
 * Child processes for the tests, the probe and the bench: a command run to
 * its end, a stream split into lines, a child that answers requests in JSON
 * lines, a Deno child with other permissions than its parent, and whether a
 * command is on PATH. Needs `--allow-run`. Private to the repository.
 *
 * @module
 */

import assert from "node:assert/strict";
import { mustSettle } from "./wait.ts";

/** Options for {@linkcode output}. */
export interface OutputOptions {
  /** Variables added to the child's environment. */
  env?: Record<string, string>;
  /** The working directory. */
  cwd?: string | URL;
  /** Kills the child when it aborts. */
  signal?: AbortSignal;
  /** Return stdout even when the command fails. @default {false} */
  allowFailure?: boolean;
}

/**
 * Runs `cmd` to its end with stdin closed.
 *
 * @returns Its stdout.
 * @throws {Deno.errors.NotFound} When the command is not found.
 * @throws {Error} When it fails (unless `allowFailure`): with its stderr's first lines.
 */
export async function output(cmd: string[], options: OutputOptions = {}): Promise<string> {
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

/** Splits a byte stream into lines of text, without their newlines; the last may lack one. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    rest += text;
    for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== "") yield rest;
}

/** A child process that reads requests and writes replies as JSON lines. */
export class JsonLinesChild {
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncGenerator<string>;
  #name: string;

  /**
   * Spawns `command`, which must pipe stdin and stdout.
   *
   * @param name The child's name in errors.
   * @param command What to run.
   */
  constructor(name: string, command: Deno.Command) {
    this.#name = name;
    this.#child = command.spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#lines = lines(this.#child.stdout);
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The next line the child prints, parsed; an `error` field in it is thrown. */
  async read(): Promise<Record<string, unknown>> {
    const next = await this.#lines.next();
    if (next.done) throw new Error(`${this.#name} ended without replying`);
    const reply = JSON.parse(next.value) as Record<string, unknown>;
    if (reply.error !== undefined) throw new Error(`${this.#name}: ${String(reply.error)}`);
    return reply;
  }

  /** Sends `request` as one line and returns the reply. */
  async ask(request: unknown): Promise<Record<string, unknown>> {
    await this.#stdin.write(new TextEncoder().encode(`${JSON.stringify(request)}\n`));
    return await this.read();
  }

  /** Closes the child's stdin and waits for it to exit. */
  async end(): Promise<Deno.CommandStatus> {
    await this.#stdin.close().catch(() => {});
    return await this.#child.status;
  }
}

/** A Deno subprocess started by {@linkcode runDeno}. */
export interface DenoChild extends AsyncDisposable {
  /** The JSON of the first line the child printed. */
  result: Record<string, unknown>;
  /** Ends the child's stdin and waits for it to exit; disposing does the same. */
  finish(): Promise<{ code: number; stderr: string }>;
}

/**
 * Runs `deno run --no-prompt ...flags module ...args` with other permissions
 * or flags than the parent has, and waits (up to 20 s) for the first line it
 * prints, which must be JSON. The child's stdin stays open until
 * {@linkcode DenoChild.finish}, so a child can keep its sockets open while
 * the parent looks at them.
 */
export async function runDeno(
  flags: string[],
  module: URL,
  ...args: string[]
): Promise<DenoChild> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, module.pathname, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdin = child.stdin.getWriter();
  let exited: Promise<{ code: number; stderr: string }> | undefined;
  const finish = (): Promise<{ code: number; stderr: string }> =>
    exited ??= (async () => {
      await stdin.close().catch(() => {});
      const { code } = await child.status;
      return { code, stderr: await stderr };
    })();
  try {
    const line = await mustSettle(
      new Response(firstLine(child.stdout)).text(),
      20_000,
      "the child",
    );
    if (line.length === 0) assert.fail(`the child printed nothing: ${(await finish()).stderr}`);
    return {
      result: JSON.parse(line),
      finish,
      [Symbol.asyncDispose]: async () => void await finish(),
    };
  } catch (e) {
    child.kill();
    await finish();
    throw e;
  }
}

/** The stream up to its first newline; the rest is read and dropped. */
function firstLine(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let done = false;
  return stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        if (done) return;
        const end = chunk.indexOf(10);
        controller.enqueue(end < 0 ? chunk : chunk.subarray(0, end));
        if (end >= 0) {
          done = true;
          controller.terminate();
        }
      },
    }),
  );
}

/** Whether `command` is an executable on PATH (or on `path`, a PATH-like list). */
export function onPath(command: string, path = Deno.env.get("PATH") ?? ""): boolean {
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${command}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Runs `deno run --no-prompt ...flags module` to its end and returns what
 * it printed on stdout, parsed as JSON; a child that fails throws with its
 * stderr.
 */
export async function denoJson(module: string, flags: string[]): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, module],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`${module} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
