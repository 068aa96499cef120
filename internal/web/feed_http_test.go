package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return out
}

// The feed in both encodings: the gzip body is the plain body compressed,
// each with its own strong ETag and its own Content-Length, both varying on
// Accept-Encoding; HEAD sends the same headers and no body.
func TestFeedEncodings(t *testing.T) {
	f := newFeedFixture(t)
	plain := f.get()
	zipped := f.get("Accept-Encoding", "gzip")
	for _, c := range []struct {
		name     string
		rec      http.Header
		encoding string
	}{{"plain", plain.Header(), ""}, {"gzip", zipped.Header(), "gzip"}} {
		if got := c.rec.Get("Content-Encoding"); got != c.encoding {
			t.Errorf("%s: Content-Encoding %q, want %q", c.name, got, c.encoding)
		}
		if got := c.rec.Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("%s: Vary %q", c.name, got)
		}
		if got := c.rec.Get("Content-Type"); got != "text/calendar; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", c.name, got)
		}
		if c.rec.Get("Last-Modified") == "" || c.rec.Get("Cache-Control") != "private, no-cache" {
			t.Errorf("%s: Last-Modified %q, Cache-Control %q", c.name, c.rec.Get("Last-Modified"), c.rec.Get("Cache-Control"))
		}
	}
	if plain.Code != 200 || zipped.Code != 200 {
		t.Fatalf("feed: %d, gzip %d", plain.Code, zipped.Code)
	}
	if got := gunzip(t, zipped.Body.Bytes()); !bytes.Equal(got, plain.Body.Bytes()) {
		t.Error("the gzip body is not the plain body compressed")
	}
	if !bytes.HasPrefix(plain.Body.Bytes(), []byte("BEGIN:VCALENDAR\r\n")) {
		t.Error("the plain body is not a calendar")
	}
	t.Logf("feed: %d bytes plain, %d gzipped", plain.Body.Len(), zipped.Body.Len())
	if zipped.Body.Len()*8 > plain.Body.Len() {
		t.Errorf("gzip gives %d bytes of %d: less than 8×", zipped.Body.Len(), plain.Body.Len())
	}
	etag, zetag := plain.Header().Get("ETag"), zipped.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || zetag != strings.TrimSuffix(etag, `"`)+`-gzip"` {
		t.Errorf("ETags %s (plain) and %s (gzip), want a strong tag and the same with -gzip", etag, zetag)
	}
	for _, c := range []struct {
		rec  http.Header
		size int
	}{{plain.Header(), plain.Body.Len()}, {zipped.Header(), zipped.Body.Len()}} {
		if got := c.rec.Get("Content-Length"); got != strconv.Itoa(c.size) {
			t.Errorf("Content-Length %s for %d bytes", got, c.size)
		}
	}

	for _, c := range []struct {
		hdr  []string
		want http.Header
	}{
		{nil, plain.Header()},
		{[]string{"Accept-Encoding", "gzip"}, zipped.Header()},
	} {
		head := f.do("HEAD", c.hdr...)
		if head.Code != 200 || head.Body.Len() != 0 {
			t.Errorf("HEAD %v: %d with %d bytes", c.hdr, head.Code, head.Body.Len())
		}
		for _, name := range []string{"ETag", "Content-Length", "Content-Encoding", "Content-Type", "Vary", "Last-Modified"} {
			if got, want := head.Header().Get(name), c.want.Get(name); got != want {
				t.Errorf("HEAD %v: %s %q, GET sent %q", c.hdr, name, got, want)
			}
		}
	}

	// Fetches of an unchanged feed are byte-identical, also when it is
	// rendered again (the cache dropped).
	f.s.Daemon.Web.ForgetAll()
	again, zagain := f.get(), f.get("Accept-Encoding", "gzip")
	if !bytes.Equal(again.Body.Bytes(), plain.Body.Bytes()) || !bytes.Equal(zagain.Body.Bytes(), zipped.Body.Bytes()) ||
		again.Header().Get("ETag") != etag || zagain.Header().Get("ETag") != zetag {
		t.Error("rendered again, the unchanged feed's bytes or ETags differ")
	}
}

// Accept-Encoding is read as RFC 9110 says: q-values count, "*" stands for
// any coding not named, identity is acceptable unless refused.
func TestFeedAcceptEncoding(t *testing.T) {
	f := newFeedFixture(t)
	for _, c := range []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"x-gzip", true},
		{"gzip, deflate, br, zstd", true},
		{"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
		{"deflate, br", false},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=0.5", false}, // identity (not named) is 1: preferred
		{"gzip;q=0.5, identity;q=0.4", true},
		{"identity;q=0, gzip;q=0.1", true},
		{"*", true},
		{"*;q=0", false},
		{"*, gzip;q=0", false},
		{"identity", false},
		{"gzip;q=x", false}, // malformed: ignored
		{"gzip;level=9", false},
	} {
		rec := f.get("Accept-Encoding", c.accept)
		if rec.Code != 200 {
			t.Fatalf("%q: %d", c.accept, rec.Code)
		}
		if got := rec.Header().Get("Content-Encoding") == "gzip"; got != c.gzip {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", c.accept, got, c.gzip)
		}
	}
}

// If-None-Match accepts either encoding's ETag (one content, two
// encodings), weakly compared, in a list or as "*", and takes precedence
// over If-Modified-Since. Each 304 carries the ETag of the encoding the
// request would get, Vary, and no body.
func TestFeedConditional(t *testing.T) {
	f := newFeedFixture(t)
	plain, zipped := f.get(), f.get("Accept-Encoding", "gzip")
	etag, zetag := plain.Header().Get("ETag"), zipped.Header().Get("ETag")
	modified := plain.Header().Get("Last-Modified")
	lm, err := http.ParseTime(modified)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"own tag, plain", []string{"If-None-Match", etag}, 304},
		{"own tag, gzip", []string{"Accept-Encoding", "gzip", "If-None-Match", zetag}, 304},
		{"gzip tag, plain request", []string{"If-None-Match", zetag}, 304},
		{"plain tag, gzip request", []string{"Accept-Encoding", "gzip", "If-None-Match", etag}, 304},
		{"weak", []string{"If-None-Match", "W/" + etag}, 304},
		{"in a list", []string{"If-None-Match", `"other", ` + zetag}, 304},
		{"star", []string{"If-None-Match", "*"}, 304},
		{"another tag", []string{"If-None-Match", `"other"`}, 200},
		{"a tag's prefix", []string{"If-None-Match", strings.TrimSuffix(etag, `"`)}, 200},
		{"another tag wins over a current date", []string{"If-None-Match", `"other"`, "If-Modified-Since", modified}, 200},
		{"Last-Modified", []string{"If-Modified-Since", modified}, 304},
		{"later", []string{"If-Modified-Since", lm.Add(time.Hour).Format(http.TimeFormat)}, 304},
		{"earlier", []string{"If-Modified-Since", lm.Add(-time.Second).Format(http.TimeFormat)}, 200},
		{"not a date", []string{"If-Modified-Since", "yesterday"}, 200},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			rec := f.do(method, c.hdr...)
			if rec.Code != c.want {
				t.Errorf("%s, %s: %d, want %d", c.name, method, rec.Code, c.want)
				continue
			}
			if c.want != 304 {
				continue
			}
			want := etag
			if len(c.hdr) > 0 && c.hdr[0] == "Accept-Encoding" {
				want = zetag
			}
			h := rec.Header()
			if rec.Body.Len() != 0 || h.Get("ETag") != want || h.Get("Vary") != "Accept-Encoding" ||
				h.Get("Content-Length") != "" || h.Get("Content-Encoding") != "" {
				t.Errorf("%s, %s: 304 with %d bytes, ETag %s (want %s), Vary %q, Content-Length %q, Content-Encoding %q",
					c.name, method, rec.Body.Len(), h.Get("ETag"), want, h.Get("Vary"), h.Get("Content-Length"), h.Get("Content-Encoding"))
			}
		}
	}
}

// A cached feed lasts until the patient's local midnight, when its window
// (14 days back, 8 weeks ahead) moves on: the next request renders it again.
func TestFeedWindowMovesAtLocalMidnight(t *testing.T) {
	f := newFeedFixture(t)
	first := f.get()
	f.warm(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Date(2026, 11, 24, 0, 0, 0, 0, berlin)

	f.s.Clock.Set(midnight.Add(-time.Minute))
	before := storeCalls(t, f.s)
	if rec := f.get(); !bytes.Equal(rec.Body.Bytes(), first.Body.Bytes()) {
		t.Error("the feed changed before midnight")
	}
	if calls := since(before, storeCalls(t, f.s)); len(calls) != 0 {
		t.Errorf("a minute before midnight the feed made store calls %v, want none", calls)
	}

	f.s.Clock.Set(midnight)
	next := f.get()
	if calls := since(before, storeCalls(t, f.s)); calls["sessions"] != 1 {
		t.Errorf("at midnight the feed made store calls %v, want a render", calls)
	}
	// The first day of the old window (9 November) has left it.
	if !bytes.Contains(first.Body.Bytes(), []byte("DTSTART:20261109")) || bytes.Contains(next.Body.Bytes(), []byte("DTSTART:20261109")) {
		t.Error("the window did not move at midnight: 9 November's sessions are still in it, or never were")
	}
}
