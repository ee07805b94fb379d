#!/usr/bin/env bash
# Test certificates for netconn's TLS tests (bash + openssl >= 1.1.1 only).
#
# Regenerate everything with one command:   bash tests/certs/generate.sh
#
# Files written next to this script (all PEM; keys ECDSA P-256 in PKCS#8,
# which Deno's rustls accepts for servers and for client certificates):
#   ca.pem, ca.key                    the test CA ("netconn test CA")
#   server.pem, server.key            leaf for DNS:localhost, IP:127.0.0.1, IP:::1, signed by ca
#   client.pem, client.key            client certificate (clientAuth) signed by ca, for mTLS
#   expired.pem, expired.key          like server.pem, signed by ca, but valid only in 2000
#   wronghost.pem, wronghost.key      signed by ca, valid, but only for DNS:wrong.example
#   unknown-ca.pem, unknown-ca.key    another, self-signed CA nobody trusts
#   unknown.pem, unknown.key          leaf for localhost/127.0.0.1/::1 signed by unknown-ca
#   stranger.pem, stranger.key        client certificate signed by unknown-ca (refused by mTLS)
#   other.pem, other.key              leaf for DNS:other.example and *.wild.example (SNI), by ca
# Everything but expired.pem is valid from 2020 to 2120. The CA keys are kept
# so that a single leaf can be re-issued; they protect nothing.
set -euo pipefail
cd "$(dirname "$0")"

# Fixed dates rather than "now + N days": a machine whose clock is behind the
# one that generated the files must not see "not yet valid".
START=20200101000000Z
END=21200101000000Z
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# sign CSR OUT EXTFILE START END [CA]: issues a certificate with `openssl ca`
# (openssl x509 cannot set a start date, and -not_before/-not_after need
# openssl 3.4); without CA the certificate signs itself with OUT's key.
sign() {
  local csr=$1 out=$2 ext=$3 start=$4 end=$5 ca=${6:-}
  rm -rf "$work/db"
  mkdir -p "$work/db"
  : >"$work/db/index.txt"
  openssl rand -hex 16 >"$work/db/serial"
  cat >"$work/ca.cnf" <<CONF
[ca]
default_ca=tmp
[tmp]
database=$work/db/index.txt
new_certs_dir=$work/db
serial=$work/db/serial
default_md=sha256
policy=any
email_in_dn=no
copy_extensions=none
unique_subject=no
[any]
organizationName=optional
commonName=supplied
CONF
  local who
  if [ -n "$ca" ]; then
    who=(-cert "$ca.pem" -keyfile "$ca.key")
  else
    who=(-selfsign -keyfile "${out%.pem}.key")
  fi
  openssl ca -batch -notext -config "$work/ca.cnf" "${who[@]}" -startdate "$start" \
    -enddate "$end" -extfile "$ext" -in "$csr" -out "$out" 2>"$work/ca.log" ||
    { cat "$work/ca.log" >&2; exit 1; }
}

# make_ca NAME CN: a self-signed CA certificate.
make_ca() {
  newkey "$1.key"
  openssl req -new -key "$1.key" -out "$work/$1.csr" -subj "/O=netconn tests/CN=$2"
  cat >"$work/$1.ext" <<CONF
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
CONF
  sign "$work/$1.csr" "$1.pem" "$work/$1.ext" "$START" "$END"
}

# make_leaf NAME CA CN SAN EKU [START END]: a leaf signed by CA.
make_leaf() {
  local name=$1 ca=$2 cn=$3 san=$4 eku=$5 start=${6:-$START} end=${7:-$END}
  newkey "$name.key"
  openssl req -new -key "$name.key" -out "$work/$name.csr" -subj "/O=netconn tests/CN=$cn"
  cat >"$work/$name.ext" <<CONF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$eku
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
CONF
  sign "$work/$name.csr" "$name.pem" "$work/$name.ext" "$start" "$end" "$ca"
}

LOCAL="DNS:localhost,IP:127.0.0.1,IP:::1"
make_ca ca "netconn test CA"
make_leaf server ca localhost "$LOCAL" serverAuth
make_leaf client ca "netconn test client" "DNS:client.netconn.test" clientAuth
make_leaf expired ca localhost "$LOCAL" serverAuth 20000101000000Z 20010101000000Z
make_leaf wronghost ca wrong.example "DNS:wrong.example" serverAuth
make_ca unknown-ca "netconn unknown CA"
make_leaf unknown unknown-ca localhost "$LOCAL" serverAuth
make_leaf stranger unknown-ca "netconn stranger" "DNS:stranger.netconn.test" clientAuth
make_leaf other ca other.example "DNS:other.example,DNS:*.wild.example" serverAuth

openssl verify -CAfile ca.pem server.pem client.pem wronghost.pem >/dev/null
openssl verify -CAfile ca.pem -no_check_time expired.pem >/dev/null # fails only on its dates
openssl verify -CAfile unknown-ca.pem unknown.pem stranger.pem >/dev/null
openssl verify -CAfile ca.pem other.pem >/dev/null
chmod 644 ./*.pem ./*.key
echo "certificates written to $(pwd)"
