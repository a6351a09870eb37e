// Package clientargs holds what the test clients share: their command line
// (URL_BASE CA_FILE COUNT PATH...), reading a response, and their report,
// one "STATUS COUNT" line per status.
package clientargs

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
)

// Args is a client's command line.
type Args struct {
	Base  string         // URL_BASE: scheme, host and port
	Roots *x509.CertPool // CA_FILE: the certificates the server's is checked against
	Count int            // requests to make
	Paths []string       // taken in turn
}

// Parse reads os.Args, or exits with the usage line.
func Parse(name string) Args {
	if len(os.Args) < 5 {
		fmt.Fprintf(os.Stderr, "usage: %s URL_BASE CA_FILE COUNT PATH...\n", name)
		os.Exit(2)
	}
	pem, err := os.ReadFile(os.Args[2])
	if err != nil {
		panic(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	count, err := strconv.Atoi(os.Args[3])
	if err != nil {
		panic(err)
	}
	return Args{Base: os.Args[1], Roots: roots, Count: count, Paths: os.Args[4:]}
}

// Tally reads a response to its end and counts its status; an error ends
// the client.
func Tally(counts map[int]int, resp *http.Response, err error) {
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	counts[resp.StatusCode]++
}

// Report prints one "STATUS COUNT" line per status, in order.
func Report(counts map[int]int) {
	var codes []int
	for c := range counts {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Printf("%d %d\n", c, counts[c])
	}
}
