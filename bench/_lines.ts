/**
 * Line-by-line reading of a byte stream, for the benchmarks whose processes
 * talk in JSON lines (bench/scale.ts and its workers, bench/compare).
 *
 * @module
 */

/** Splits a byte stream into lines of text, without their newlines. */
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
   * Spawns `command` with stdin and stdout piped; stderr is inherited.
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
