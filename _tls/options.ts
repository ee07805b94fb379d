/**
 * Checks of TLS options, made before anything goes on the wire: the name to
 * verify (as the runtime's rustls accepts it), ALPN lists (RFC 7301's
 * limits, as Go checks them), PEM certificates and keys (parsed, so a
 * corrupt or non-PEM text is a clear error at once), client-auth modes and
 * SNI tables. Internal.
 *
 * @module
 */

import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { describe, optionError, quote } from "../_check.ts";

/** Go's `tls.ClientAuthType`, by name. */
export type ClientAuth =
  | "none"
  | "request"
  | "require"
  | "verify-if-given"
  | "require-and-verify";

/** Every {@linkcode ClientAuth} mode, in Go's order. */
export const CLIENT_AUTH_MODES: readonly ClientAuth[] = [
  "none",
  "request",
  "require",
  "verify-if-given",
  "require-and-verify",
];

/** A certificate chain (PEM) and its private key (PEM). */
export interface CertifiedKey {
  /** The certificate chain, leaf first (PEM). */
  cert: string;
  /** The leaf's private key (PEM). */
  key: string;
}

const encoder = new TextEncoder();
const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;
const PEM_KEY = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[^-]+-----END \1-----/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** One protocol name of an ALPN list: 1 to 255 bytes (RFC 7301). */
const MAX_ALPN_NAME = 255;
/** The whole ALPN list as encoded, each name with its length byte: at most 2^16 - 1 bytes. */
const MAX_ALPN_LIST = 0xffff;

/**
 * True if `name` is one rustls takes as a server name: an IP address, or a
 * DNS name of labels of letters, digits, `-` and `_` (not at a label's ends),
 * at most 253 bytes, whose last label is not all digits. Deno throws
 * before the handshake for any other, leaving the TCP socket behind.
 */
export function isServerName(name: string): boolean {
  if (IPV4.test(name)) return true;
  if (name.includes(":")) return isIpv6(name);
  const dns = name.endsWith(".") ? name.slice(0, -1) : name;
  if (dns === "" || dns.length > 253) return false;
  const labels = dns.split(".");
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels.at(-1)!);
}

/** True if `name` is an IPv6 address as `new URL` reads one (no brackets, no zone). */
function isIpv6(name: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(name)) return false;
  try {
    new URL(`http://[${name}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks the name to verify the server's certificate for.
 *
 * @throws {TypeError} Unless it is a server name rustls takes (see {@linkcode isServerName}).
 */
export function checkServerName(name: unknown, where: string, option = "hostname"): string {
  if (typeof name !== "string" || name === "") {
    throw optionError(where, option, "a non-empty string", name);
  }
  if (!isServerName(name)) {
    throw new TypeError(
      `${where} option "${option}" must be a DNS name or an IP address: received ${describe(name)}`,
    );
  }
  return name;
}

/**
 * Checks an ALPN list as Go does before a handshake: each name 1 to 255
 * bytes, the encoded list at most 65535 bytes.
 *
 * @throws {TypeError} Unless it is an array of strings.
 * @throws {RangeError} For an empty name, a name over 255 bytes, or a list too long.
 */
export function checkAlpn(list: unknown, where: string): string[] | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
    throw optionError(where, "alpnProtocols", "an array of strings", list);
  }
  let total = 0;
  for (const [i, name] of (list as string[]).entries()) {
    const bytes = encoder.encode(name).length;
    if (bytes === 0 || bytes > MAX_ALPN_NAME) {
      throw new RangeError(
        `${where} option "alpnProtocols" takes names of 1 to ${MAX_ALPN_NAME} bytes: ` +
          `received ${describe(name)} (${bytes} bytes) at index ${i}`,
      );
    }
    total += 1 + bytes;
  }
  if (total > MAX_ALPN_LIST) {
    throw new RangeError(
      `${where} option "alpnProtocols" encodes to at most ${MAX_ALPN_LIST} bytes: ` +
        `received ${list.length} names, ${total} bytes`,
    );
  }
  return list as string[];
}

/**
 * Parses the certificates in a PEM text.
 *
 * @throws {TypeError} For a value that is not a string, holds no PEM
 *   certificate, or holds one that does not parse.
 */
export function parseCerts(pem: unknown, where: string, option: string): X509Certificate[] {
  if (typeof pem !== "string" || pem === "") throw optionError(where, option, "a PEM string", pem);
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    throw new TypeError(
      `${where} option "${option}" must hold a PEM certificate ` +
        `("-----BEGIN CERTIFICATE-----"): received ${describe(pem)}`,
    );
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw new TypeError(
        `${where} option "${option}" holds a corrupt certificate (number ${i + 1}): ` +
          `${(e as Error).message}`,
        { cause: e },
      );
    }
  });
}

/**
 * Checks a list of PEM texts of trusted authorities (`caCerts`, `clientCas`
 * as a list); every text must hold at least one certificate that parses.
 *
 * @throws {TypeError} As {@linkcode parseCerts}, or for a value that is not an array of strings.
 */
export function checkCaList(list: unknown, where: string, option: string): string[] | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
    throw optionError(where, option, "an array of PEM strings", list);
  }
  for (const [i, pem] of (list as string[]).entries()) parseCerts(pem, where, `${option}[${i}]`);
  return list as string[];
}

/**
 * Checks a certificate chain and key pair: both PEM, the chain parsing,
 * the key parsing and being the leaf's (Deno would fail the listen with
 * "keys may not be consistent", `node:tls` each handshake with an
 * unrelated message).
 *
 * @throws {TypeError} For a missing, non-PEM or corrupt `cert` or `key`,
 *   or a key that is not the certificate's.
 */
export function checkCertifiedKey(value: unknown, where: string, prefix = ""): CertifiedKey {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${where} takes { cert, key }: received ${describe(value)}`);
  }
  const { cert, key } = value as Partial<CertifiedKey>;
  const [leaf] = parseCerts(cert, where, `${prefix}cert`);
  if (typeof key !== "string" || key === "") {
    throw optionError(where, `${prefix}key`, "a PEM string", key);
  }
  if (!PEM_KEY.test(key)) {
    throw new TypeError(
      `${where} option "${prefix}key" must hold a PEM private key: received ${describe(key)}`,
    );
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(createPrivateKey(key));
  } catch (e) {
    throw new TypeError(
      `${where} option "${prefix}key" holds a corrupt private key: ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (!sameKey(publicKey, leaf!.publicKey)) {
    throw new TypeError(
      `${where} options "${prefix}cert" and "${prefix}key" do not match: ` +
        "the key is not the certificate's",
    );
  }
  return { cert: cert!, key };
}

/** True if two public keys are the same key. */
function sameKey(a: KeyObject, b: KeyObject): boolean {
  const x = new Uint8Array(a.export({ type: "spki", format: "der" }));
  const y = new Uint8Array(b.export({ type: "spki", format: "der" }));
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Checks a client-auth mode.
 *
 * @throws {TypeError} Unless it is one of {@linkcode CLIENT_AUTH_MODES}.
 */
export function checkClientAuth(mode: unknown, where: string): ClientAuth {
  if (mode === undefined) return "none";
  if (typeof mode !== "string" || !(CLIENT_AUTH_MODES as readonly string[]).includes(mode)) {
    throw optionError(where, "clientAuth", CLIENT_AUTH_MODES.map((m) => `"${m}"`).join(", "), mode);
  }
  return mode as ClientAuth;
}

/**
 * Checks an SNI table: server names to certificate and key.
 *
 * @throws {TypeError} For a table that is not a plain object, a name that is
 *   not a DNS name (a leading `*.` is a wildcard), or a bad certificate.
 */
export function checkSni(
  sni: unknown,
  where: string,
): Record<string, CertifiedKey> | undefined {
  if (sni === undefined) return undefined;
  if (typeof sni !== "object" || sni === null || Array.isArray(sni)) {
    throw optionError(where, "sni", "an object of server names to { cert, key }", sni);
  }
  const table: Record<string, CertifiedKey> = {};
  for (const [name, pair] of Object.entries(sni)) {
    const bare = name.startsWith("*.") ? name.slice(2) : name;
    if (!isServerName(bare) || IPV4.test(bare) || bare.includes(":")) {
      throw new TypeError(`${where} option "sni" takes DNS names: received ${quote(name)}`);
    }
    table[name.toLowerCase()] = checkCertifiedKey(pair, where, `sni[${quote(name)}].`);
  }
  return table;
}
