/**
 * The test certificates of tests/certs (regenerate them with
 * `bash tests/certs/generate.sh`): `server` is for "localhost" and
 * 127.0.0.1, signed by `ca`. Reading them needs `--allow-read`. Private to
 * the repository.
 *
 * @module
 */

/** The directory of the test certificates. */
export const CERTS_DIR: string = new URL("../tests/certs/", import.meta.url).pathname;

/** Path of a file in tests/certs, e.g. `certPath("server.pem")`. */
export function certPath(name: string): string {
  return CERTS_DIR + name;
}

/** Text of a file in tests/certs, e.g. `certText("ca.pem")`. */
export function certText(name: string): string {
  return Deno.readTextFileSync(certPath(name));
}

/** PEM `cert` and `key` of a certificate in tests/certs, by base name. */
export function certifiedKey(base: string): { cert: string; key: string } {
  return { cert: certText(`${base}.pem`), key: certText(`${base}.key`) };
}
