"""A TLS client in Python's ssl, for netconn's TLS server tests: dials
ADDR, verifies SERVERNAME against the test CA, presents CERT and KEY when
given, writes a line, and prints the line it reads back, or the error.

    python3 tests/peers/tls_client.py HOST PORT SERVERNAME CAFILE [CERTFILE KEYFILE]
"""

import socket
import ssl
import sys


def main() -> None:
    host, port, name, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = ssl.create_default_context(cafile=ca)
    if len(sys.argv) > 6:
        ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    try:
        with socket.create_connection((host, port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                print("handshake:", tls.version(), tls.cipher()[0], flush=True)
                tls.sendall(b"hello from python\n")
                line = tls.makefile("rb").readline()
                if not line:
                    print("error: EOF")
                    return
                print("got:", line.decode(), end="")
    except (OSError, ssl.SSLError) as e:
        print("error:", e)


main()
