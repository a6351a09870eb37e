// HTTPS test server for the TLS capture tests: /ok 200, /missing 404,
// /fail 500 on 127.0.0.1 and a free port, printed as "PORT N".
//
//	server CERT_FILE KEY_FILE
package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "missing", 404) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "fail", 500) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("PORT %d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	// HTTP/1.1 only: an empty TLSNextProto turns HTTP/2 off.
	srv := &http.Server{Handler: mux, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	panic(srv.ServeTLS(ln, os.Args[1], os.Args[2]))
}
