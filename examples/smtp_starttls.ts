/**
 * An SMTP-like server that upgrades to TLS on STARTTLS (RFC 3207), with
 * `conn.startTls({ isServer: true })`, Go's `tls.Server(conn, config)`. It
 * speaks just enough SMTP for `openssl s_client -starttls smtp` and mail
 * clients to get through the upgrade: a greeting, EHLO/HELO, STARTTLS,
 * NOOP and QUIT. Before TLS, every command but EHLO, HELO, STARTTLS, NOOP
 * and QUIT is refused (530), and bytes sent after STARTTLS before the
 * handshake (a command-injection attempt, CVE-2011-0411) close the conn.
 *
 * Run it, then talk to it with openssl:
 *
 * ```sh
 * deno run --allow-net --allow-read examples/smtp_starttls.ts 127.0.0.1:2525
 * openssl s_client -starttls smtp -connect 127.0.0.1:2525 -CAfile tests/certs/ca.pem \
 *   -verify_hostname localhost -verify_return_error
 * ```
 *
 * @module
 */

import { listen, type Listener, type TcpConn, type TlsConn } from "../mod.ts";
import { BufReader } from "../bufio/mod.ts";

/** The server's certificate, key, and what it asks of clients. */
export interface SmtpTlsOptions {
  /** The server's certificate chain (PEM). */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** The server's name in its greeting. @default {"netconn.example"} */
  name?: string;
  /** Milliseconds a client may stay silent before it is dropped. @default {30000} */
  idleMs?: number;
}

const encoder = new TextEncoder();
const MAX_LINE = 512; // RFC 5321: a command line is at most 512 bytes

/**
 * Serves one SMTP-like session on `conn`: plaintext until STARTTLS, then
 * TLS. Resolves when the client quits or leaves; closes the conn.
 *
 * @returns The TLS conn's state if the session was upgraded, else null.
 */
export async function serveSmtp(
  conn: TcpConn,
  options: SmtpTlsOptions,
): Promise<ReturnType<TlsConn["tlsState"]> | null> {
  const name = options.name ?? "netconn.example";
  const idleMs = options.idleMs ?? 30_000;
  let current: TcpConn | TlsConn = conn;
  let reader = new BufReader(conn, MAX_LINE + 2);
  let upgraded: TlsConn | null = null;
  const reply = (text: string) => current.write(encoder.encode(`${text}\r\n`));
  try {
    await reply(`220 ${name} ESMTP netconn ready`);
    while (true) {
      current.setReadDeadline(Date.now() + idleMs);
      const line = await reader.readString("\n", { maxLength: MAX_LINE + 2 });
      if (line === null) return upgraded?.tlsState() ?? null;
      const [verb = "", ...rest] = line.trim().split(" ");
      switch (verb.toUpperCase()) {
        case "EHLO":
          await reply(`250-${name} greets ${rest.join(" ") || "you"}`);
          await reply(upgraded === null ? "250-STARTTLS\r\n250 8BITMIME" : "250 8BITMIME");
          break;
        case "HELO":
          await reply(`250 ${name}`);
          break;
        case "NOOP":
          await reply("250 OK");
          break;
        case "QUIT":
          await reply("221 Bye");
          return upgraded?.tlsState() ?? null;
        case "STARTTLS": {
          if (upgraded !== null) {
            await reply("503 TLS already active");
            break;
          }
          if (reader.buffered() > 0) {
            // Bytes after STARTTLS, before the handshake: a client that
            // pipelines into TLS, or an injection. Never carry them over.
            await reply("501 Nothing may follow STARTTLS");
            return null;
          }
          await reply("220 Ready to start TLS");
          current.setReadDeadline(Date.now() + idleMs); // bounds the handshake
          upgraded = await conn.startTls({ isServer: true, cert: options.cert, key: options.key });
          current = upgraded;
          reader = new BufReader(upgraded, MAX_LINE + 2);
          break;
        }
        default:
          await reply(
            upgraded === null ? "530 Must issue a STARTTLS command first" : "502 Not implemented",
          );
      }
    }
  } finally {
    current.close();
  }
}

/**
 * Accepts sessions on `ln` until it is closed, each served by
 * {@linkcode serveSmtp}; a session's failure ends that session only.
 */
export async function serveSmtpListener(ln: Listener, options: SmtpTlsOptions): Promise<void> {
  const sessions = new Set<Promise<unknown>>();
  for await (const conn of ln) {
    const session = serveSmtp(conn, options).catch(() => null);
    sessions.add(session);
    session.finally(() => sessions.delete(session));
  }
  await Promise.all(sessions);
}

if (import.meta.main) {
  const address = Deno.args[0] ?? "127.0.0.1:2525";
  const certs = new URL("../tests/certs/", import.meta.url);
  const cert = Deno.readTextFileSync(Deno.args[1] ?? new URL("server.pem", certs));
  const key = Deno.readTextFileSync(Deno.args[2] ?? new URL("server.key", certs));
  const ln = listen(address);
  console.log(`SMTP-like STARTTLS server on ${ln.addr}`);
  await serveSmtpListener(ln, { cert, key });
}
