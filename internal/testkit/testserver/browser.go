package testserver

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"pacer/internal/store"
)

// Browser is a signed-in therapist's (or a patient's) browser: it keeps its
// cookies, does not follow redirects, and sends a form post as a same-origin
// browser does.
type Browser struct {
	s      *Server
	client *http.Client
}

// Page is a response as a browser shows it: the body's text with HTML
// entities decoded.
type Page struct {
	Code int
	Body string
	Hdr  http.Header
}

// NewBrowser is a browser with no cookies.
func (s *Server) NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{s: s, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// SignIn is a browser signed in as th: it sets a password through a fresh
// setup link, as a therapist does on first use.
func (s *Server) SignIn(th store.Therapist) *Browser {
	s.t.Helper()
	tok, err := store.NewToken()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.Store.CreateSetupToken(s.t.Context(), th.ID, store.HashToken(tok), s.Clock.Now().Add(time.Hour)); err != nil {
		s.t.Fatal(err)
	}
	b := s.NewBrowser()
	const password = "a long test passphrase"
	if p := b.Post("/setup/"+tok, url.Values{"password": {password}, "confirm": {password}}); p.Code != http.StatusSeeOther {
		s.t.Fatalf("setting a password: %d %s", p.Code, p.Body)
	}
	return b
}

// Get fetches a page.
func (b *Browser) Get(path string) Page { return b.send("GET", path, nil) }

// Post posts a form, same-origin.
func (b *Browser) Post(path string, form url.Values) Page { return b.send("POST", path, form) }

func (b *Browser) send(method, path string, form url.Values) Page {
	b.s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = b.s.URL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", b.s.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return Page{Code: resp.StatusCode, Body: html.UnescapeString(string(raw)), Hdr: resp.Header}
}
