// HTTPS test client whose every request is written by a fresh goroutine
// from a call depth one deeper than the last: COUNT GET requests over one
// keep-alive connection, the paths taken in turn, then one "STATUS COUNT"
// line per status.
//
// A new goroutine starts on a small stack. Across the depths, one of the
// (*tls.Conn).Write calls finds too little of it left in its prologue: the
// runtime grows the stack and runs Write again from its first instruction.
// A probe at that instruction would see two calls for one.
//
//	deepwrite URL_BASE CA_FILE COUNT PATH...
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"

	"kerno.test/tlsgo/clientargs"
)

// descend calls write from depth frames below its caller.
//
//go:noinline
func descend(depth int, write func()) {
	if depth > 0 {
		descend(depth-1, write)
		return
	}
	write()
}

func main() {
	args := clientargs.Parse("deepwrite")
	base, err := url.Parse(args.Base)
	if err != nil {
		panic(err)
	}
	conn, err := tls.Dial("tcp", base.Host, &tls.Config{RootCAs: args.Roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	reader := bufio.NewReader(conn)
	counts := map[int]int{}
	for i := 0; i < args.Count; i++ {
		// Made here: the goroutine's first call deeper than Write's
		// prologue must be Write's own.
		req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", args.Paths[i%len(args.Paths)], base.Host))
		done := make(chan error, 1)
		go descend(i, func() {
			_, err := conn.Write(req)
			done <- err
		})
		if err := <-done; err != nil {
			panic(err)
		}
		resp, err := http.ReadResponse(reader, nil)
		clientargs.Tally(counts, resp, err)
	}
	clientargs.Report(counts)
}
