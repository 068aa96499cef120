package web_test

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/internal/web"
)

const (
	sessionCookie = web.SessionCookie
	wrongLogin    = web.WrongLogin
	loginBurst    = web.LoginBurst
	loginFree     = web.LoginFree
)

// browser sends form posts as a browser on the server's own origin would,
// and never follows redirects, so that each response can be checked.
type browser struct {
	e      *env
	client *http.Client
	cookie *http.Cookie // the session cookie, once set
}

func newBrowser(e *env) *browser {
	return &browser{e: e, client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	code int
	body string
	hdr  http.Header
	resp *http.Response
}

// send makes a request; hdr are header name, value pairs. A POST is
// same-origin unless the pairs say otherwise.
func (b *browser) send(method, path string, form url.Values, hdr ...string) page {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.URL+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", b.e.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if b.cookie != nil {
		req.AddCookie(&http.Cookie{Name: b.cookie.Name, Value: b.cookie.Value})
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			if c.MaxAge < 0 {
				b.cookie = nil
			} else {
				b.cookie = c
			}
		}
	}
	return page{code: resp.StatusCode, body: html.UnescapeString(string(raw)), hdr: resp.Header, resp: resp}
}

func (p page) want(t *testing.T, what string, code int, texts ...string) {
	t.Helper()
	if p.code != code {
		t.Fatalf("%s: status %d, want %d; body:\n%s", what, p.code, code, p.body)
	}
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Errorf("%s: the page does not say %q:\n%s", what, s, p.body)
		}
	}
}

// setupLink adds a therapist with a setup link expiring at expires and
// returns the link's path.
func setupLink(t *testing.T, e *env, email string, expires time.Time) string {
	t.Helper()
	th, err := e.Store.CreateTherapist(t.Context(), email, "Dr "+email, false)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := store.NewToken()
	if err := e.Store.CreateSetupToken(t.Context(), th.ID, store.HashToken(tok), expires); err != nil {
		t.Fatal(err)
	}
	return "/setup/" + tok
}

// withPassword adds a therapist who has set the password, via the setup link.
func withPassword(t *testing.T, e *env, email, password string) {
	t.Helper()
	b := newBrowser(e)
	link := setupLink(t, e, email, e.Clock.Now().Add(time.Hour))
	b.send("POST", link, url.Values{"password": {password}, "confirm": {password}}).want(t, "setup", http.StatusSeeOther)
}

func TestSetupLink(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		b := newBrowser(e)
		link := setupLink(t, e, "ada@example.org", e.Clock.Now().Add(72*time.Hour))

		p := b.send("GET", link, nil)
		p.want(t, "the setup page", http.StatusOK, "Choose a password", "ada@example.org",
			`<label for="password">`, `<label for="confirm">`)
		if got := p.hdr.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("Referrer-Policy %q on the setup page, whose URL holds a token", got)
		}

		// What to fix, said plainly; nothing is set.
		b.send("POST", link, url.Values{"password": {"short"}, "confirm": {"short"}}).
			want(t, "a short password", http.StatusUnprocessableEntity, "The password is 5 characters long; use at least 12.")
		b.send("POST", link, url.Values{"password": {"long enough 1"}, "confirm": {"long enough 2"}}).
			want(t, "differing passwords", http.StatusUnprocessableEntity, "The two passwords differ")
		if b.cookie != nil {
			t.Fatal("a refused password set a session cookie")
		}

		// Set: signed in and sent home.
		p = b.send("POST", link, url.Values{"password": {"a long passphrase"}, "confirm": {"a long passphrase"}})
		p.want(t, "setting the password", http.StatusSeeOther)
		if loc := p.hdr.Get("Location"); loc != "/" {
			t.Errorf("redirect to %q, want /", loc)
		}
		if b.cookie == nil {
			t.Fatal("no session cookie after setting the password")
		}
		b.send("GET", "/", nil).want(t, "home after setup", http.StatusOK, "Signed in as", "ada@example.org")

		// Once only.
		other := newBrowser(e)
		other.send("POST", link, url.Values{"password": {"another passphrase"}, "confirm": {"another passphrase"}}).
			want(t, "a second use", http.StatusNotFound, "already been used, has expired")
		other.send("GET", link, nil).want(t, "the used link", http.StatusNotFound, "This link does not work")
		if other.cookie != nil {
			t.Error("a second use set a session cookie")
		}
		// The first password stands.
		login(t, newBrowser(e), "ada@example.org", "a long passphrase")

		// Expired: refused, even the instant it expires.
		expired := setupLink(t, e, "bo@example.org", e.Clock.Now())
		b2 := newBrowser(e)
		b2.send("GET", expired, nil).want(t, "an expired link", http.StatusNotFound, "This link does not work")
		b2.send("POST", expired, url.Values{"password": {"a long passphrase"}, "confirm": {"a long passphrase"}}).
			want(t, "using an expired link", http.StatusNotFound)
		b2.send("POST", "/login", url.Values{"email": {"bo@example.org"}, "password": {"a long passphrase"}}).
			want(t, "login after an expired link", http.StatusForbidden, wrongLogin)

		newBrowser(e).send("GET", "/setup/not-a-token", nil).want(t, "an unknown link", http.StatusNotFound)
	})
}

// login signs b in and checks it worked.
func login(t *testing.T, b *browser, email, password string) page {
	t.Helper()
	p := b.send("POST", "/login", url.Values{"email": {email}, "password": {password}})
	p.want(t, "login", http.StatusSeeOther)
	if b.cookie == nil {
		t.Fatal("login set no session cookie")
	}
	return p
}

func TestLoginAndLogout(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		withPassword(t, e, "ada@example.org", "a long passphrase")
		b := newBrowser(e)

		// A visitor sees the login form, on / and /login.
		for _, path := range []string{"/", "/login"} {
			p := b.send("GET", path, nil)
			p.want(t, "GET "+path+" as a visitor", http.StatusOK, `<form method="post" action="/login">`,
				`<label for="email">Email</label>`, `<label for="password">Password</label>`)
			if strings.Contains(p.body, "Signed in") {
				t.Errorf("GET %s as a visitor claims someone is signed in", path)
			}
		}

		// Wrong password, unknown email, no password: one message.
		var first string
		for i, form := range []url.Values{
			{"email": {"ada@example.org"}, "password": {"a wrong passphrase"}},
			{"email": {"nobody@example.org"}, "password": {"a long passphrase"}},
			{"email": {"ada@example.org"}, "password": {""}},
		} {
			p := b.send("POST", "/login", form)
			p.want(t, "a failed login", http.StatusForbidden, wrongLogin)
			msg := regexp.MustCompile(`(?s)<p class="error"[^>]*>(.*?)</p>`).FindStringSubmatch(p.body)
			if msg == nil {
				t.Fatalf("no error message on the page:\n%s", p.body)
			}
			if i == 0 {
				first = msg[1]
			} else if msg[1] != first {
				t.Errorf("failed login %d says %q, the first said %q", i, msg[1], first)
			}
			if b.cookie != nil {
				t.Fatal("a failed login set a session cookie")
			}
		}

		// The email's case does not matter; the cookie is as it should be.
		p := login(t, b, "ADA@example.org", "a long passphrase")
		if loc := p.hdr.Get("Location"); loc != "/" {
			t.Errorf("login redirects to %q, want /", loc)
		}
		c := b.cookie
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
			t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v; want HttpOnly, Lax, /, not Secure over http",
				c.HttpOnly, c.SameSite, c.Path, c.Secure)
		}
		if c.MaxAge != 12*3600 {
			t.Errorf("cookie Max-Age %d, want 12 h", c.MaxAge)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(c.Value) {
			t.Errorf("session token %q is not 256 random bits in base64url", c.Value)
		}
		b.send("GET", "/", nil).want(t, "home", http.StatusOK, "Signed in as", "ada@example.org", `action="/logout"`)
		if p := b.send("GET", "/login", nil); p.code != http.StatusSeeOther {
			t.Errorf("GET /login when signed in: %d, want a redirect home", p.code)
		}
		if _, err := e.Daemon.Web.TherapistOf(withCookie(c)); err != nil {
			t.Errorf("therapist(r) with the cookie: %v", err)
		}

		// Logout ends the session in the store, not only the cookie.
		p = b.send("POST", "/logout", nil)
		p.want(t, "logout", http.StatusSeeOther)
		if b.cookie != nil {
			t.Error("logout did not clear the cookie")
		}
		if _, err := e.Store.WebSession(t.Context(), store.HashToken(c.Value), e.Clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the session after logout: %v, want ErrNotFound", err)
		}
		b.cookie = c // a stolen copy of the old cookie
		p = b.send("GET", "/", nil)
		p.want(t, "home with the old cookie", http.StatusOK, "Sign in to pacer")
		if strings.Contains(p.body, "Signed in as") {
			t.Error("the old cookie still signs in after logout")
		}

		// Sessions expire after 12 hours.
		b = newBrowser(e)
		login(t, b, "ada@example.org", "a long passphrase")
		e.Clock.Set(e.Clock.Now().Add(12*time.Hour - time.Second))
		b.send("GET", "/", nil).want(t, "home just before expiry", http.StatusOK, "Signed in as")
		e.Clock.Set(e.Clock.Now().Add(time.Second))
		b.send("GET", "/", nil).want(t, "home at expiry", http.StatusOK, "Sign in to pacer")
	})
}

func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return r
}

// Over https the cookie is Secure.
func TestSessionCookieSecureOverHTTPS(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		base, _ := url.Parse("https://pacer.example.org/")
		e := newEnv(t, dsn, testserver.Options{BaseURL: base})
		withPassword(t, e, "ada@example.org", "a long passphrase")
		req := httptest.NewRequest("POST", "https://pacer.example.org/login",
			strings.NewReader(url.Values{"email": {"ada@example.org"}, "password": {"a long passphrase"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://pacer.example.org")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		rec := httptest.NewRecorder()
		e.Daemon.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 || cookies[0].Name != "__Host-"+sessionCookie || !cookies[0].Secure || !cookies[0].HttpOnly ||
			cookies[0].SameSite != http.SameSiteLaxMode {
			t.Errorf("cookies over https: %+v; want one Secure, HttpOnly, SameSite=Lax %s", cookies, sessionCookie)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	e := sqliteEnv(t)
	withPassword(t, e, "ada@example.org", "a long passphrase")
	h := e.Daemon.Handler
	attempt := func(addr, email, password string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/login",
			strings.NewReader(url.Values{"email": {email}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = addr + ":41000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	limited := func(rec *httptest.ResponseRecorder) bool {
		return rec.Code == http.StatusTooManyRequests && strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") &&
			strings.Contains(rec.Body.String(), "Too many failed sign-ins") && rec.Header().Get("Retry-After") != ""
	}

	// Per address: failures at many emails (the burst), then 429 even
	// for the right password.
	for i := range loginBurst {
		if rec := attempt("192.0.2.1", fmt.Sprintf("guess%d@example.org", i), "wrong passphrase"); rec.Code != http.StatusForbidden {
			t.Fatalf("attempt %d: %d, want 403", i+1, rec.Code)
		}
	}
	rec := attempt("192.0.2.1", "ada@example.org", "a long passphrase")
	if !limited(rec) {
		t.Fatalf("after the burst: %d %q %q, want a plain 429 with Retry-After", rec.Code, rec.Header(), rec.Body)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Error("a rate-limited login set a cookie")
	}
	// Another address is not held up by the first one's guesses.
	if rec := attempt("192.0.2.2", "ada@example.org", "a long passphrase"); rec.Code != http.StatusSeeOther {
		t.Fatalf("another address: %d, want 303", rec.Code)
	}

	// Per address and email: three free failures, then a wait that doubles.
	for i := range loginFree {
		if rec := attempt("198.51.100.1", "Ada@Example.org", "wrong passphrase"); rec.Code != http.StatusForbidden {
			t.Fatalf("failure %d: %d, want 403", i+1, rec.Code)
		}
	}
	if rec := attempt("198.51.100.1", "ada@example.org", "wrong passphrase"); rec.Code != http.StatusForbidden {
		t.Fatalf("the 4th failure: %d, want 403 (and a wait after it)", rec.Code)
	}
	if rec := attempt("198.51.100.1", "ada@example.org", "a long passphrase"); !limited(rec) || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("right after the 4th failure: %d Retry-After %q, want 429 for 1 s", rec.Code, rec.Header().Get("Retry-After"))
	}
	e.Clock.Add(time.Second)
	attempt("198.51.100.1", "ada@example.org", "wrong passphrase") // the 5th: 2 s
	if rec := attempt("198.51.100.1", "ada@example.org", "a long passphrase"); rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("after the 5th failure: %d Retry-After %q, want 2 s", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Nobody else waits: the therapist signs in from elsewhere at once,
	// so no one can lock out a known email.
	if rec := attempt("203.0.113.9", "ada@example.org", "a long passphrase"); rec.Code != http.StatusSeeOther {
		t.Fatalf("the therapist from another address: %d, want 303", rec.Code)
	}
	// After the wait, the right password works, and clears the delays.
	e.Clock.Add(2 * time.Second)
	if rec := attempt("198.51.100.1", "ada@example.org", "a long passphrase"); rec.Code != http.StatusSeeOther {
		t.Fatalf("after waiting: %d, want 303", rec.Code)
	}
	if rec := attempt("198.51.100.1", "ada@example.org", "wrong passphrase"); rec.Code != http.StatusForbidden {
		t.Fatalf("a failure after a success: %d, want 403 (the count starts again)", rec.Code)
	}
}

// The cross-origin check refuses a forged form post, and lets through
// non-browser clients: the bearer API and the patient's check-in endpoints.
func TestCrossOriginProtection(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		withPassword(t, e, "ada@example.org", "a long passphrase")
		victim := newBrowser(e)
		login(t, victim, "ada@example.org", "a long passphrase")
		hash := store.HashToken(victim.cookie.Value)

		evil := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
		p := victim.send("POST", "/logout", nil, evil...)
		p.want(t, "a cross-site logout", http.StatusForbidden, "came from another site")
		if _, err := e.Store.WebSession(t.Context(), hash, e.Clock.Now()); err != nil {
			t.Errorf("the session after a refused cross-site logout: %v", err)
		}
		attacker := newBrowser(e)
		attacker.send("POST", "/login", url.Values{"email": {"ada@example.org"}, "password": {"a long passphrase"}}, evil...).
			want(t, "a cross-site login", http.StatusForbidden)
		if attacker.cookie != nil {
			t.Error("a cross-site login set a cookie")
		}
		// An older browser sends only Origin: the host comparison refuses it.
		req, _ := http.NewRequest("POST", e.URL+"/logout", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: victim.cookie.Value})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a logout with a foreign Origin only: %d, want 403", resp.StatusCode)
		}
		// Same origin, once more, goes through.
		victim.send("POST", "/logout", nil).want(t, "a same-origin logout", http.StatusSeeOther)

		// Non-browser clients send neither header and pass: the JSON API…
		var pat struct {
			ID         int64  `json:"id"`
			CheckinURL string `json:"checkin_url"`
		}
		e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"Pat","email":"pat@example.org","timezone":"Europe/Berlin"}`,
			http.StatusCreated, &pat)
		// …and the patient's check-in endpoints, where the handler answers
		// (no plan is assigned yet, hence 409).
		checkins := strings.TrimPrefix(pat.CheckinURL, e.URL) + "/checkins"
		code, body, _ := e.Do("POST", checkins, "", `{"kind":"flare"}`)
		if code != http.StatusConflict || !strings.Contains(string(body), "no plan to check in to") {
			t.Errorf("a check-in from a non-browser client: %d %s, want the handler's 409", code, body)
		}
		// A page elsewhere cannot post a check-in in the patient's name.
		code, body, _ = e.Do("POST", checkins, "", `{"kind":"flare"}`, evil...)
		if code != http.StatusForbidden {
			t.Errorf("a cross-site check-in: %d %s, want 403", code, body)
		}
	})
}

// Pages hold no inline script or style (the CSP forbids them) and link the
// stylesheet at a content-hashed URL that is served, cacheable for ever.
func TestPagesAndStatic(t *testing.T) {
	e := sqliteEnv(t)
	b := newBrowser(e)
	link := setupLink(t, e, "ada@example.org", e.Clock.Now().Add(time.Hour))
	var css string
	for _, path := range []string{"/", "/login", link, "/setup/unknown"} {
		p := b.send("GET", path, nil)
		for _, bad := range []string{"<script", "<style", " style=", "onclick=", "javascript:"} {
			if strings.Contains(strings.ToLower(p.body), bad) {
				t.Errorf("GET %s holds %q", path, bad)
			}
		}
		for _, want := range []string{`<html lang="en">`, `name="viewport"`, "<title>"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("GET %s lacks %s", path, want)
			}
		}
		m := regexp.MustCompile(`href="(/static/pacer\.[0-9a-f]{12}\.css)"`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("GET %s links no hashed stylesheet:\n%s", path, p.body)
		}
		css = m[1]
		if got := p.hdr.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", path, got)
		}
	}
	p := b.send("GET", css, nil)
	p.want(t, "the stylesheet", http.StatusOK, "box-sizing")
	if ct := p.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("stylesheet Content-Type %q", ct)
	}
	if cc := p.hdr.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("stylesheet Cache-Control %q, want immutable", cc)
	}
	b.send("GET", "/static/pacer.000000000000.css", nil).want(t, "a stale asset name", http.StatusNotFound)
}
