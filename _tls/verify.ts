/**
 * Verifies a peer's certificate chain against trusted authorities, as Go's
 * `x509.Certificate.Verify` does for a client certificate: each link issued
 * by and signed with the next, every certificate within its dates, the
 * path ending at a trusted authority, intermediates marked as CAs, and a
 * leaf that may be used for client authentication. Deno's `node:tls` does
 * not check a client's chain when it upgrades a stream (`authorized` is
 * false whatever was sent), so netconn does it here. Internal.
 *
 * @module
 */

import type { X509Certificate } from "node:crypto";

/** The longest chain followed: Go has no limit, but 8 links are more than any real PKI uses. */
const MAX_DEPTH = 8;

/** OID of the extended key usage "TLS client authentication". */
const CLIENT_AUTH_EKU = "1.3.6.1.5.5.7.3.2";
/** OID of "any extended key usage". */
const ANY_EKU = "2.5.29.37.0";

/**
 * Why `chain` (leaf first, as the peer sent it) does not verify against
 * `roots` at time `now`, or undefined when it does.
 */
export function chainError(
  chain: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now: Date = new Date(),
): string | undefined {
  const leaf = chain[0];
  if (leaf === undefined) return "no certificate";
  const usage = extendedKeyUsage(leaf);
  if (usage !== undefined && !usage.includes(CLIENT_AUTH_EKU) && !usage.includes(ANY_EKU)) {
    return "certificate specifies an incompatible key usage";
  }
  let current = leaf;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const dates = datesError(current, now);
    if (dates !== undefined) return dates;
    const root = roots.find((r) => signs(r, current));
    if (root !== undefined) return datesError(root, now);
    const next = chain.slice(1).find((c) => c !== current && c.ca && signs(c, current));
    if (next === undefined) return "certificate signed by unknown authority";
    current = next;
  }
  return "certificate chain too long";
}

/** True if `issuer` issued `cert` and its key verifies `cert`'s signature. */
function signs(issuer: X509Certificate, cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Why `cert` is not valid at `now`, or undefined. */
function datesError(cert: X509Certificate, now: Date): string | undefined {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (!(now.getTime() >= from)) return `certificate is not valid before ${cert.validFrom}`;
  if (!(now.getTime() <= to)) return `certificate has expired (${cert.validTo})`;
  return undefined;
}

/** The leaf's extended key usages as OIDs, or undefined when it names none (any use). */
function extendedKeyUsage(cert: X509Certificate): string[] | undefined {
  const usage = (cert as { keyUsage?: unknown }).keyUsage;
  if (!Array.isArray(usage) || usage.length === 0) return undefined;
  // Node gives OIDs; some runtimes give names: accept both spellings.
  const oids = usage.map((u) => String(u));
  if (oids.some((u) => /^\d+(\.\d+)+$/.test(u))) return oids;
  return oids.some((u) => /client/i.test(u)) ? [CLIENT_AUTH_EKU] : undefined;
}
