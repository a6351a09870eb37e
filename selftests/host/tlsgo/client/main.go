// HTTPS test client for the TLS capture tests: COUNT GET requests with
// net/http over keep-alive connections, the paths taken in turn, then one
// "STATUS COUNT" line per status.
//
//	client URL_BASE CA_FILE COUNT PATH...
package main

import (
	"crypto/tls"
	"net/http"

	"kerno.test/tlsgo/clientargs"
)

func main() {
	args := clientargs.Parse("client")
	// HTTP/1.1 only: the capture under test parses HTTP/1.x.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: args.Roots},
		ForceAttemptHTTP2: false,
		TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	counts := map[int]int{}
	for i := 0; i < args.Count; i++ {
		resp, err := client.Get(args.Base + args.Paths[i%len(args.Paths)])
		clientargs.Tally(counts, resp, err)
	}
	clientargs.Report(counts)
}
