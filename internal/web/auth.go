package web

// Therapists' sign-in for the web pages: the one-time setup link from
// `pacer user add`, login and logout with a session cookie, login rate limits,
// Argon2id password hashes, and the cross-origin (CSRF) check. The embedded
// templates and static assets the pages share are loaded here too.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"pacer/internal/store"
)

// AuthStore is what sign-in needs of the store.
type AuthStore interface {
	SetupTokenTherapist(ctx context.Context, hash []byte, now time.Time) (store.Therapist, error)
	UseSetupToken(ctx context.Context, hash []byte, passwordHash string, now time.Time) (store.Therapist, error)
	PasswordHash(ctx context.Context, email string) (store.Therapist, string, error)
	CreateWebSession(ctx context.Context, hash []byte, therapistID int64, expires time.Time) error
	WebSession(ctx context.Context, hash []byte, now time.Time) (store.Therapist, error)
	DeleteWebSession(ctx context.Context, hash []byte) error
	DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int64, error)
	TherapistPasswordHash(ctx context.Context, therapistID int64) (string, error)
	SetPassword(ctx context.Context, therapistID int64, passwordHash string, keepHash []byte) error
	EndWebSessions(ctx context.Context, therapistID int64, keepHash []byte) error
}

const (
	// sessionCookie is the session cookie's name over plain http; over
	// https it has the __Host- prefix (see cookieName).
	sessionCookie = "pacer_session"
	sessionTTL    = 12 * time.Hour

	minPassword = 12  // characters
	maxPassword = 256 // characters; bounds the hashing work a request can ask for

	maxFormBody = 16 << 10

	// Failed sign-ins per client address: 30 a minute with a burst of 30,
	// so that one address trying many emails does not get far.
	loginPerSec = 30.0 / 60
	loginBurst  = 30
	// Failed sign-ins per client address and email: 3 free, then a wait
	// that doubles with each failure, from 1 s up to 15 minutes. It holds
	// back one sender guessing one password, and nobody else: there is no
	// lock on the email, which anyone could trigger.
	loginFree      = 3
	loginFirstWait = time.Second
	loginMaxWait   = 15 * time.Minute
)

// Argon2id parameters: OWASP's recommended minimum (m=19 MiB, t=2, p=1).
var argonParams = argonParameters{memory: 19 * 1024, time: 2, threads: 1, saltLen: 16, keyLen: 32}

type argonParameters struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	saltLen int
	keyLen  uint32
}

// Bounds on the parameters a stored hash may name, so that a tampered row
// cannot make a login allocate gigabytes.
const (
	maxArgonMemory  = 256 * 1024
	maxArgonTime    = 16
	maxArgonThreads = 16
)

var b64 = base64.RawStdEncoding // the PHC string format's base64: standard alphabet, no padding

// hashPassword returns the password's Argon2id hash in the PHC string format,
// $argon2id$v=19$m=19456,t=2,p=1$salt$hash.
func hashPassword(password string) (string, error) {
	p := argonParams
	salt := make([]byte, p.saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, p.keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// checkPassword reports whether password matches the PHC-format Argon2id
// hash, comparing in constant time. A malformed hash is an error.
func checkPassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("check password: not an argon2id hash")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, fmt.Errorf("check password: unsupported argon2 version %q", parts[2])
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) {
		return false, fmt.Errorf("check password: malformed parameters %q", parts[3])
	}
	if m == 0 || m > maxArgonMemory || t == 0 || t > maxArgonTime || p == 0 || p > maxArgonThreads {
		return false, fmt.Errorf("check password: parameters out of bounds: %s", parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errors.New("check password: malformed salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errors.New("check password: malformed hash")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// auth serves the sign-in pages. Handler builds one per handler.
type auth struct {
	*Server
	pages  *pages
	byAddr *limiter // failed sign-ins per client address
	delays *backoff // failed sign-ins per client address and email
	// hashing bounds concurrent Argon2id runs (19 MiB each), so that a burst
	// of logins queues instead of exhausting memory.
	hashing chan struct{}
	// dummy is compared against when the email is unknown, so that a wrong
	// email takes as long as a wrong password.
	dummy string
}

// authRoutes registers the sign-in pages, the home page and the static assets.
func (s *Server) authRoutes(mux *http.ServeMux) {
	dummy, err := hashPassword("pacer: no such therapist")
	if err != nil {
		panic(err) // the system's randomness failed; nothing else would work either
	}
	a := &auth{
		Server:  s,
		pages:   mustPages(),
		byAddr:  newLimiter(loginPerSec, loginBurst, s.Now),
		delays:  newBackoff(loginFree, loginFirstWait, loginMaxWait, s.Now),
		hashing: make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		dummy:   dummy,
	}
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /setup/{token}", a.setupPage)
	mux.HandleFunc("POST /setup/{token}", a.setup)
	mux.HandleFunc("GET /static/{file}", a.pages.static)
	page := func(pattern string, h func(http.ResponseWriter, *http.Request, store.Therapist)) {
		mux.HandleFunc(pattern, a.signedInPage(h))
	}
	page("GET /account", a.accountPage)
	page("POST /account/password", a.changePassword)
	page("POST /account/sign-out-everywhere", a.signOutEverywhere)
}

// crossOrigin refuses state-changing browser requests from other origins
// (CSRF). Requests without Origin and Sec-Fetch-Site headers (API clients,
// curl) pass: they carry no ambient credentials a page elsewhere could abuse.
// The base URL's origin is trusted too, for proxies that rewrite Host.
func (s *Server) crossOrigin() *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	if s.Clinic.BaseURL != nil && s.Clinic.BaseURL.Scheme != "" && s.Clinic.BaseURL.Host != "" {
		if err := c.AddTrustedOrigin(s.Clinic.BaseURL.Scheme + "://" + s.Clinic.BaseURL.Host); err != nil {
			s.Log.Warn("the base URL is not a valid origin; only same-host requests are trusted", "err", err)
		}
	}
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusForbidden, "This request came from another site and was refused. Open pacer's own page and try again.")
	}))
	return c
}

// therapist returns the therapist signed in with the request's session
// cookie; ErrNotFound when there is none or it has expired.
func (s *Server) therapist(r *http.Request) (store.Therapist, error) {
	c, err := r.Cookie(s.cookieName())
	if err != nil || c.Value == "" {
		return store.Therapist{}, fmt.Errorf("session: no cookie: %w", store.ErrNotFound)
	}
	return s.Store.WebSession(r.Context(), store.HashToken(c.Value), s.Now())
}

// secureCookies reports whether cookies get the Secure attribute: whenever
// pacer is reached over https. Plain http is for local use and tests, where a
// Secure cookie would never be sent back.
func (s *Server) secureCookies() bool {
	return s.Clinic.BaseURL != nil && s.Clinic.BaseURL.Scheme == "https"
}

// cookieName is the session cookie's name: over https with the __Host-
// prefix, which browsers accept only from a secure origin, for the whole
// host (Path=/, no Domain), so that a neighbouring subdomain cannot set or
// shadow it.
func (s *Server) cookieName() string {
	if s.secureCookies() {
		return "__Host-" + sessionCookie
	}
	return sessionCookie
}

// sessionHash is the hash of the request's session cookie; nil without one.
func (s *Server) sessionHash(r *http.Request) []byte {
	if c, err := r.Cookie(s.cookieName()); err == nil && c.Value != "" {
		return store.HashToken(c.Value)
	}
	return nil
}

// startSession creates a session for the therapist and sets its cookie.
func (a *auth) startSession(w http.ResponseWriter, r *http.Request, t store.Therapist) error {
	tok, err := store.NewToken()
	if err != nil {
		return err
	}
	now := a.Now()
	expires := now.Add(sessionTTL)
	if err := a.Store.CreateWebSession(r.Context(), store.HashToken(tok), t.ID, expires); err != nil {
		return err
	}
	// Sessions are swept here rather than by a job of their own: logins
	// are rare, and one indexed DELETE keeps the table to live sessions.
	if _, err := a.Store.DeleteExpiredWebSessions(r.Context(), now); err != nil {
		a.Log.Warn("sweep expired web sessions", "err", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(), Value: tok, Path: "/",
		Expires: expires, MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: a.secureCookies(), SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (a *auth) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secureCookies(), SameSite: http.SameSiteLaxMode,
	})
}

// signedIn returns the request's therapist; ok is false for a visitor. A
// store failure is answered with 500.
func (a *auth) signedIn(w http.ResponseWriter, r *http.Request) (t store.Therapist, ok, failed bool) {
	t, err := a.therapist(r)
	switch {
	case err == nil:
		return t, true, false
	case errors.Is(err, store.ErrNotFound):
		return t, false, false
	default:
		a.pageError(w, r, err)
		return t, false, true
	}
}

type loginData struct {
	Email string
	Error string
}

// home is the therapist's home page (therapist.go); a visitor gets the
// login form.
func (a *auth) home(w http.ResponseWriter, r *http.Request) {
	t, ok, failed := a.signedIn(w, r)
	if failed {
		return
	}
	if !ok {
		a.render(w, r, http.StatusOK, "login.html", loginData{})
		return
	}
	a.therapistHome(w, r, t)
}

func (a *auth) loginPage(w http.ResponseWriter, r *http.Request) {
	_, ok, failed := a.signedIn(w, r)
	if failed {
		return
	}
	if ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "login.html", loginData{})
}

// wrongLogin is the one message for an unknown email, a wrong password and a
// therapist without a password, so that the page does not tell which emails
// have accounts.
const wrongLogin = "The email or password is wrong."

func (a *auth) login(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	// Only failures count: an address that fails with many emails runs
	// out, and one sender failing with one email waits longer after each
	// failure; a therapist signing in from elsewhere is never held back.
	addr := clientAddr(r)
	key := addr + "\x00" + strings.ToLower(email)
	if wait := a.delays.wait(key); wait > 0 || !a.byAddr.has(addr) {
		secs := int((max(wait, time.Second) + time.Second - 1) / time.Second)
		if wait == 0 {
			secs = 60
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		plain(w, http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins from here. Wait %d seconds, then try again.", secs))
		return
	}
	fail := func() {
		a.byAddr.allow(addr)
		a.delays.fail(key)
		a.render(w, r, http.StatusForbidden, "login.html", loginData{Email: email, Error: wrongLogin})
	}
	if email == "" || password == "" || utf8.RuneCountInString(password) > maxPassword {
		fail()
		return
	}
	t, hash, err := a.Store.PasswordHash(r.Context(), email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		hash = a.dummy
	case err != nil:
		a.pageError(w, r, err)
		return
	}
	match, err := a.checkPassword(r.Context(), hash, password)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	if !match || hash == a.dummy {
		fail()
		return
	}
	a.delays.succeed(key)
	if err := a.startSession(w, r, t); err != nil {
		a.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// checkPassword runs checkPassword under the concurrency bound.
func (a *auth) checkPassword(ctx context.Context, hash, password string) (bool, error) {
	select {
	case a.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.hashing }()
	return checkPassword(hash, password)
}

func (a *auth) hashPassword(ctx context.Context, password string) (string, error) {
	select {
	case a.hashing <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-a.hashing }()
	return hashPassword(password)
}

func (a *auth) logout(w http.ResponseWriter, r *http.Request) {
	if hash := a.sessionHash(r); hash != nil {
		if err := a.Store.DeleteWebSession(r.Context(), hash); err != nil {
			a.pageError(w, r, err)
			return
		}
	}
	a.clearCookie(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type setupData struct {
	Email    string
	Action   string
	Errors   []string
	Min, Max int
}

// setupTherapist resolves a setup link, answering 404 itself when it is not
// (or no longer) valid.
func (a *auth) setupTherapist(w http.ResponseWriter, r *http.Request) (store.Therapist, bool) {
	// The path holds the token: keep it out of Referer headers and caches.
	w.Header().Set("Referrer-Policy", "no-referrer")
	t, err := a.Store.SetupTokenTherapist(r.Context(), store.HashToken(r.PathValue("token")), a.Now())
	if err == nil {
		return t, true
	}
	if !errors.Is(err, store.ErrNotFound) {
		a.pageError(w, r, err)
		return t, false
	}
	if !a.failures.allow(clientAddr(r)) {
		plain(w, http.StatusTooManyRequests, "Too many unknown links. Wait a minute, then try again.")
		return t, false
	}
	a.invalidSetupLink(w, r)
	return t, false
}

func (a *auth) invalidSetupLink(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusNotFound, "message.html", messageData{
		Title: "This link does not work",
		Text: "This password link has already been used, has expired, or was copied incompletely. " +
			"If you have set your password, sign in; otherwise ask your administrator for a new link.",
		Link: "/login", LinkText: "Sign in",
	})
}

func (a *auth) setupPage(w http.ResponseWriter, r *http.Request) {
	t, ok := a.setupTherapist(w, r)
	if !ok {
		return
	}
	a.render(w, r, http.StatusOK, "setup.html", a.setupData(r, t, nil))
}

func (a *auth) setupData(r *http.Request, t store.Therapist, errs []string) setupData {
	return setupData{Email: t.Email, Action: r.URL.Path, Errors: errs, Min: minPassword, Max: maxPassword}
}

func (a *auth) setup(w http.ResponseWriter, r *http.Request) {
	t, ok := a.setupTherapist(w, r)
	if !ok {
		return
	}
	if !parseForm(w, r) {
		return
	}
	password, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	if errs := passwordProblems(password, confirm); len(errs) > 0 {
		a.render(w, r, http.StatusUnprocessableEntity, "setup.html", a.setupData(r, t, errs))
		return
	}
	hash, err := a.hashPassword(r.Context(), password)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	t, err = a.Store.UseSetupToken(r.Context(), store.HashToken(r.PathValue("token")), hash, a.Now())
	if errors.Is(err, store.ErrNotFound) { // used or expired since the check above
		a.invalidSetupLink(w, r)
		return
	}
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	if err := a.startSession(w, r, t); err != nil {
		a.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// passwordProblems says what to fix in a new password, or nothing.
func passwordProblems(password, confirm string) []string {
	var errs []string
	switch n := utf8.RuneCountInString(password); {
	case n < minPassword:
		errs = append(errs, fmt.Sprintf("The password is %d characters long; use at least %d.", n, minPassword))
	case n > maxPassword:
		errs = append(errs, fmt.Sprintf("The password is %d characters long; use at most %d.", n, maxPassword))
	}
	if password != confirm {
		errs = append(errs, "The two passwords differ; type the same password in both fields.")
	}
	return errs
}

// parseForm reads a URL-encoded form body of bounded size, answering 400 or
// 413 itself when it cannot.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			plain(w, http.StatusRequestEntityTooLarge, "The form is too large.")
			return false
		}
		plain(w, http.StatusBadRequest, "The form could not be read; reload the page and try again.")
		return false
	}
	return true
}

// plain answers with a short text message.
func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

type messageData struct {
	Title, Text    string
	Link, LinkText string
}

// pageError logs an unexpected error without request data and answers 500
// with a page.
func (a *auth) pageError(w http.ResponseWriter, r *http.Request, err error) {
	a.Log.Error("request failed", "route", r.Pattern, "err", err)
	a.render(w, r, http.StatusInternalServerError, "message.html", messageData{
		Title: "Something went wrong",
		Text:  "The server could not complete this request; the server log has the details. Try again in a moment.",
	})
}

// render writes a page. Pages are rendered to a buffer first, so that a
// template error yields a clean 500 rather than half a page.
func (a *auth) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := a.pages.execute(&buf, name, data); err != nil {
		a.Log.Error("render page", "route", r.Pattern, "page", name, "err", err)
		plain(w, http.StatusInternalServerError, "internal error; the server log has the details")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // pages show who is signed in
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

// Templates and static assets, embedded. Each page template is parsed with
// the layout; static files are served under content-hashed names, so that
// they can be cached for ever and a new release is fetched at once.

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

type pages struct {
	tmpl   map[string]*template.Template // by page file name
	byPath map[string]asset              // hashed file name → asset
	paths  map[string]string             // file name → /static/ hashed URL
}

type asset struct {
	body  []byte
	ctype string
}

// mustPages parses the embedded templates and hashes the static files; it
// panics on an error, which is a broken build, and a test catches it.
func mustPages() *pages {
	p := &pages{tmpl: map[string]*template.Template{}, byPath: map[string]asset{}, paths: map[string]string{}}
	err := fs.WalkDir(staticFiles, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		base := path.Base(name)
		ext := path.Ext(base)
		hashed := strings.TrimSuffix(base, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		p.byPath[hashed] = asset{body: body, ctype: mime.TypeByExtension(ext)}
		p.paths[base] = "/static/" + hashed
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("web: static files: %v", err))
	}
	funcs := template.FuncMap{"asset": func(name string) (string, error) {
		if u, ok := p.paths[name]; ok {
			return u, nil
		}
		return "", fmt.Errorf("no static file %q", name)
	}}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(fmt.Sprintf("web: templates: %v", err))
	}
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", name)
		if err != nil {
			panic(fmt.Sprintf("web: template %s: %v", base, err))
		}
		p.tmpl[base] = t
	}
	return p
}

func (p *pages) execute(w *bytes.Buffer, name string, data any) error {
	t, ok := p.tmpl[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	return t.ExecuteTemplate(w, "layout", data)
}

// static serves an embedded file by its hashed name, cached for a year.
func (p *pages) static(w http.ResponseWriter, r *http.Request) {
	f, ok := p.byPath[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if f.ctype != "" {
		h.Set("Content-Type", f.ctype)
	}
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
