// Command feed-static is the floor scripts/feed-load measures pacer against:
// Go's net/http, and nothing else, serving a feed file and its precompressed
// .gz from memory, as nginx's gzip_static does from disk. Whatever pacer
// serves slower than this is pacer's own cost; whatever this serves slower
// than nginx is net/http's.
//
// It answers every path with FILE, or FILE.gz with Content-Encoding: gzip
// when Accept-Encoding names gzip, each with its ETag, Vary and
// Content-Length, and 304 to a matching If-None-Match.
//
// Usage: go run ./scripts/feed-static -file FILE [-listen 127.0.0.1:0]
//
// It prints "listening on http://ADDR" and serves until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	file := flag.String("file", "", "the feed to serve; FILE.gz beside it is its gzip encoding")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	if err := run(*file, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "feed-static:", err)
		os.Exit(1)
	}
}

type body struct {
	data   []byte
	length []string
	etag   []string
}

func read(path, etag string) (body, error) {
	b, err := os.ReadFile(path)
	return body{b, []string{strconv.Itoa(len(b))}, []string{etag}}, err
}

func run(file, listen string) error {
	if file == "" {
		return fmt.Errorf("give -file")
	}
	plain, err := read(file, `"plain"`)
	if err != nil {
		return err
	}
	gz, err := read(file+".gz", `"gzip"`)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	calendar := []string{"text/calendar; charset=utf-8"}
	vary, gzip := []string{"Accept-Encoding"}, []string{"gzip"}
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, h := &plain, w.Header()
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			b = &gz
			h["Content-Encoding"] = gzip
		}
		h["Vary"] = vary
		h["Etag"] = b.etag
		if r.Header.Get("If-None-Match") == b.etag[0] {
			delete(h, "Content-Encoding")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h["Content-Type"] = calendar
		h["Content-Length"] = b.length
		w.Write(b.data)
	}))
}
