// A TLS client in Go's crypto/tls, for netconn's TLS server tests: dials
// ADDR, verifies SERVERNAME against the test CA, presents CERT (signed with
// KEY, which may be another certificate's key: a forged proof), writes a
// line, and prints the line it reads back, or the error.
//
//	go run tests/peers/tls_client.go ADDR SERVERNAME CAFILE [CERTFILE KEYFILE]
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

func main() {
	addr, name, caFile := os.Args[1], os.Args[2], os.Args[3]
	caPEM, err := os.ReadFile(caFile)
	check(err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool, ServerName: name}
	if len(os.Args) > 5 {
		certPEM, err := os.ReadFile(os.Args[4])
		check(err)
		keyPEM, err := os.ReadFile(os.Args[5])
		check(err)
		cb, _ := pem.Decode(certPEM)
		kb, _ := pem.Decode(keyPEM)
		key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		check(err)
		// Built by hand, not with tls.X509KeyPair, which would refuse a key
		// that does not match: the forged case needs exactly that.
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cb.Bytes}, PrivateKey: key}}
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	state := c.ConnectionState()
	version := map[uint16]string{tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}[state.Version]
	fmt.Printf("handshake: %s %s\n", version, tls.CipherSuiteName(state.CipherSuite))
	if _, err := c.Write([]byte("hello from go\n")); err != nil {
		fmt.Println("error:", err)
		return
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Print("got: ", line)
}

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
}
