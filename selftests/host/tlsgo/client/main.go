// HTTPS test client for the TLS capture tests: COUNT GET requests with
// net/http over keep-alive connections, the paths taken in turn, then one
// "STATUS COUNT" line per status.
//
//	client URL_BASE CA_FILE COUNT PATH...
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
)

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: client URL_BASE CA_FILE COUNT PATH...")
		os.Exit(2)
	}
	pem, err := os.ReadFile(os.Args[2])
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	count, _ := strconv.Atoi(os.Args[3])
	paths := os.Args[4:]
	// HTTP/1.1 only: the capture under test parses HTTP/1.x.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: false,
		TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	counts := map[int]int{}
	for i := 0; i < count; i++ {
		resp, err := client.Get(os.Args[1] + paths[i%len(paths)])
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		counts[resp.StatusCode]++
	}
	var codes []int
	for c := range counts {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Printf("%d %d\n", c, counts[c])
	}
}
