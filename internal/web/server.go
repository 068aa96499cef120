// Package web serves pacer over HTTP: the therapist JSON API under /api/v1,
// the therapist's pages, the patient's check-in page and endpoints under
// /c/{token}, calendar feeds under /feed/{token}.ics, and the health
// endpoints. It only translates HTTP: what a request does is a use case of
// internal/clinic, what a page shows is read from the store as the last
// re-plan stored it. It owns authentication, request limits and the mapping
// of domain errors to status codes. internal/daemon builds it.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/store"
	"pacer/programs"
)

// Store is what the web layer reads from the store; every write goes through
// the clinic.
type Store interface {
	Ping(ctx context.Context) error
	TherapistByAPIToken(ctx context.Context, hash []byte, now time.Time) (store.Therapist, error)
	Patient(ctx context.Context, therapistID, id int64) (store.Patient, error)
	Patients(ctx context.Context, therapistID int64) ([]store.Patient, error)
	PatientByFeedToken(ctx context.Context, hash []byte) (store.Patient, error)
	PatientByCheckinToken(ctx context.Context, hash []byte) (store.Patient, error)
	Assignment(ctx context.Context, therapistID, id int64) (store.Assignment, error)
	Assignments(ctx context.Context, patientID int64) ([]store.Assignment, error)
	AllAssignments(ctx context.Context, patientID int64) ([]store.Assignment, error)
	Sessions(ctx context.Context, patientID int64, from, to programs.Date) ([]store.Session, error)
	Plan(ctx context.Context, assignmentID int64) (store.Plan, error)
	PatientStatuses(ctx context.Context, therapistID int64) ([]store.PatientStatus, error)
	CheckInsOf(ctx context.Context, patientID int64) ([]store.CheckIn, error)
	Channels(ctx context.Context, patientID int64) ([]store.Channel, error)
	NotifySettings(ctx context.Context, patientID int64) (store.NotifySettings, error)
	Reminders(ctx context.Context, patientID int64, since time.Time) ([]store.Reminder, error)
	TherapistAlerts(ctx context.Context, patientID int64, kind string, since time.Time) ([]store.Reminder, error)
	Session(ctx context.Context, id int64) (store.Session, error)
	CreateTherapist(ctx context.Context, email, name string, admin bool) (store.Therapist, error)
	CreateSetupToken(ctx context.Context, therapistID int64, hash []byte, expires time.Time) error
	Therapist(ctx context.Context, id int64) (store.Therapist, error)
	Therapists(ctx context.Context) ([]store.Therapist, error)
	SetTherapistDisabled(ctx context.Context, id int64, disabled bool) error
	MovePatients(ctx context.Context, from, to int64) (int64, error)
	AuthStore
}

var _ Store = (*store.Store)(nil)

// TelegramBot guides a patient to the clinic's Telegram bot without typing
// a chat id (notify/telegram.Bot): the link that opens the bot with a code
// of theirs, and the chat that sent it (telegram.ErrNoChat: none yet).
type TelegramBot interface {
	StartLink(ctx context.Context, code string) (string, error)
	ChatFor(ctx context.Context, code string) (string, error)
}

// Server holds the web layer's dependencies; nothing here is global.
type Server struct {
	Store   Store
	Clinic  *clinic.Clinic
	Library *programs.Library
	Now     func() time.Time
	Log     *slog.Logger
	// Metrics, if set, serves /metrics and counts requests (see metrics.go).
	Metrics *Metrics
	// VAPIDPublic is the key the check-in page subscribes to Web Push with;
	// empty: Web Push is not set up.
	VAPIDPublic string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (trusted_proxies); set before Handler.
	TrustedProxies []netip.Prefix
	// ClinicContact is how patients reach the clinic (clinic.contact),
	// shown where a page tells them to contact their therapist.
	ClinicContact string
	// NtfyServer is the ntfy server a patient's new ntfy channel uses: the
	// configured default (ntfy.server), else the public one.
	NtfyServer string

	// Telegram, if set, is the clinic's Telegram bot, which a patient
	// connects to in guided steps (patientsetup.go).
	Telegram TelegramBot

	patientUI *patientPages // the patient's pages, once Handler has built them

	feeds    *feedCache
	perToken *limiter // requests per valid token
	failures *limiter // failed token lookups per client address
}

// New wires the HTTP side of a running pacer; internal/daemon calls it.
func New(st Store, c *clinic.Clinic, lib *programs.Library, now func() time.Time, log *slog.Logger) *Server {
	return &Server{
		Store: st, Clinic: c, Library: lib, Now: now, Log: log,
		feeds:    newFeedCache(feedCacheEntries, feedCacheBytes),
		perToken: newLimiter(10, 40, now),
		failures: newLimiter(1, 20, now),
	}
}

// Forget drops what the server caches of a patient (their rendered feed): the
// clinic calls it after a change, and so does the daemon for each change
// another replica commits.
func (s *Server) Forget(patientID int64) { s.feeds.forget(patientID) }

// ForgetAll drops what the server caches of every patient.
func (s *Server) ForgetAll() { s.feeds.forgetAll() }

// Synced tells the server whether it hears every change other replicas
// commit (on PostgreSQL, while the daemon listens for them). While it does
// not, feeds are served uncached; either way, what was cached is dropped, as
// changes may have gone unheard. A new server is synced: one process alone
// on its database hears everything through Forget.
func (s *Server) Synced(ok bool) { s.feeds.setSynced(ok) }

// FeedCache is what the feed cache holds, and whether it is in use.
func (s *Server) FeedCache() (entries, bytes int, synced bool) {
	entries, bytes = s.feeds.stats()
	return entries, bytes, s.feeds.synced.Load()
}

// Limits on request bodies.
const (
	maxJSONBody    = 64 << 10
	maxProgramBody = 256 << 10
)

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}

	mux.HandleFunc("GET /feed/{file}", s.feed) // GET covers HEAD
	s.patientUI = &patientPages{Server: s, tmpl: mustPatientTemplates(mustPages())}
	s.linkRoutes(mux)    // a session's link and a channel's confirmation link (links.go)
	s.patientRoutes(mux) // the check-in page, its manifest and service worker (patientpage.go)
	mux.HandleFunc("POST /c/{token}/checkins", s.postCheckIn)
	mux.HandleFunc("GET /c/{token}/channels", s.getChannelsPatient)
	mux.HandleFunc("PUT /c/{token}/channels", s.putChannelsPatient)
	mux.HandleFunc("POST /c/{token}/push-subscriptions", s.postPushSubscription)
	mux.HandleFunc("GET /vapid-public-key", s.vapidKey)

	api := func(pattern string, h func(http.ResponseWriter, *http.Request, store.Therapist)) {
		mux.HandleFunc(pattern, s.authenticated(h))
	}
	api("POST /api/v1/patients", s.createPatient)
	api("GET /api/v1/patients", s.listPatients)
	api("GET /api/v1/patients/{id}", s.getPatient)
	api("GET /api/v1/patients/{id}/export", s.exportPatient)
	api("DELETE /api/v1/patients/{id}", s.erasePatient)
	api("POST /api/v1/patients/{id}/assignments", s.createAssignment)
	api("POST /api/v1/patients/{id}/feed-token", s.rotateFeedToken)
	api("POST /api/v1/patients/{id}/checkin-token", s.rotateCheckinToken)
	api("POST /api/v1/assignments/{id}/end", s.endAssignment)
	api("GET /api/v1/patients/{id}/channels", s.getChannelsAPI)
	api("PUT /api/v1/patients/{id}/channels", s.putChannelsAPI)
	api("GET /api/v1/assignments/{id}/plan", s.getPlan)
	api("POST /api/v1/assignments/{id}/pause", s.pause)
	api("POST /api/v1/assignments/{id}/resume", s.resume)
	api("PATCH /api/v1/assignments/{id}", s.patchAssignment)
	api("DELETE /api/v1/assignments/{id}", s.removeAssignment)
	api("POST /api/v1/patients/{id}/assignments/preview", s.previewAssignment)
	api("GET /api/v1/patients/{id}/red-flags", s.getRedFlags)
	api("POST /api/v1/patients/{id}/red-flags/{checkin}/acknowledge", s.acknowledgeRedFlag)
	api("PUT /api/v1/patients/{id}/known-red-flags/{item}", s.markRedFlagKnown)
	api("DELETE /api/v1/patients/{id}/known-red-flags/{item}", s.unmarkRedFlagKnown)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: see the README for /api/v1")
	})

	// Therapists' sign-in, the home page and static assets (auth.go).
	s.authRoutes(mux)
	s.therapistRoutes(mux) // the therapist's pages (therapist.go)

	// Cross-origin browser requests that change state are refused (CSRF);
	// API clients and curl send no Origin or Sec-Fetch-Site and pass.
	return s.middleware(s.crossOrigin().Handler(mux))
}

// middleware adds security headers, recovers from panics and logs each request
// by its route pattern, never its path: paths carry capability tokens.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.Now()
		h := w.Header() // keys as http.CanonicalHeaderKey writes them; the values are shared
		h["X-Content-Type-Options"] = nosniff
		h["X-Frame-Options"] = frameDeny
		h["Content-Security-Policy"] = contentSecurityPolicy
		if s.secureCookies() {
			// Served over https: browsers keep to https for a year.
			h["Strict-Transport-Security"] = strictTransport
		}
		for _, capability := range []string{"/c/", "/feed/", "/s/", "/confirm/"} {
			if strings.HasPrefix(r.URL.Path, capability) {
				h["Referrer-Policy"] = noReferrer
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), clientKey{}, s.client(r)))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				s.Log.Error("panic in handler", "route", r.Pattern, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !rec.wrote {
					writeError(rec, http.StatusInternalServerError, "internal error")
				}
			}
			if s.Log.Enabled(r.Context(), slog.LevelDebug) {
				s.Log.Debug("request", "method", r.Method, "route", r.Pattern, "status", rec.status,
					"duration_ms", s.Now().Sub(start).Milliseconds())
			}
			s.Metrics.observe(r, rec.status, s.Now().Sub(start))
		}()
		next.ServeHTTP(rec, r)
	})
}

// The security headers' values, shared by every response (see header).
var (
	nosniff               = header("nosniff")
	frameDeny             = header("DENY")
	contentSecurityPolicy = header("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	strictTransport       = header("max-age=31536000")
	noReferrer            = header("no-referrer")
)

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.Store.Ping(ctx); err != nil {
		s.Log.Warn("store not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "store unavailable")
		return
	}
	fmt.Fprintln(w, "ok")
}

// authenticated checks the bearer token and the per-token rate limit. Only
// a valid token gets a bucket of its own: an unknown one counts against its
// sender's address, so a flood of made-up tokens costs one indexed lookup
// each and no memory.
func (s *Server) authenticated(h func(http.ResponseWriter, *http.Request, store.Therapist)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" || len(tok) > maxTokenLen {
			if !s.failures.allow(clientAddr(r)) {
				writeError(w, http.StatusTooManyRequests, "too many failed requests; wait a minute")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="pacer"`)
			writeError(w, http.StatusUnauthorized, "send Authorization: Bearer <token> (create one with pacer token create)")
			return
		}
		hash := store.HashToken(tok)
		// An address that has spent its budget of unknown tokens is
		// answered without a lookup, unless the token is one used lately
		// (it has a bucket): a flood costs no store reads, and a client
		// whose token keeps working is not held up by a flood from its
		// address.
		if addr := clientAddr(r); !s.perToken.seen(string(hash)) && !s.failures.has(addr) {
			writeError(w, http.StatusTooManyRequests, "too many failed requests; wait a minute")
			return
		}
		t, err := s.Store.TherapistByAPIToken(r.Context(), hash, s.Now())
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.internal(w, r, err)
				return
			}
			if !s.failures.allow(clientAddr(r)) {
				writeError(w, http.StatusTooManyRequests, "too many failed requests; wait a minute")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="pacer", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "the API token is not valid, has expired or was revoked (create one with pacer token create)")
			return
		}
		if !s.perToken.allow(string(hash)) {
			writeError(w, http.StatusTooManyRequests, "too many requests with this token; slow down")
			return
		}
		h(w, r, t)
	}
}

// maxTokenLen bounds a token read from a request: pacer's are 43 to 54
// characters; a longer one is not worth hashing.
const maxTokenLen = 128

// clientKey is the request context's key of the client's address.
type clientKey struct{}

// clientAddr is the address of the request's client, as the middleware
// found it (client).
func clientAddr(r *http.Request) string {
	if a, ok := r.Context().Value(clientKey{}).(string); ok {
		return a
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// client is the address of the request's client: the connection's, or,
// when that is a trusted proxy (trusted_proxies), the last address in
// X-Forwarded-For that is not one. A proxy appends the address it saw, so
// hops left of the last untrusted one may be forged by the client.
func (s *Server) client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !s.trustedProxy(ip) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := ip.Unmap()
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // not an address: the hops beyond are the client's word
		}
		client = a.Unmap().WithZone("")
		if !s.trustedProxy(client) {
			break
		}
	}
	return client.String()
}

func (s *Server) trustedProxy(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // the client went away; nothing to do
}

// internal logs an unexpected error without request data and answers 500.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.Log.Error("request failed", "route", r.Pattern, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error; the server log has the details")
}

// fail answers a clinic error: a Problem with 400 and its message, a
// Conflict with 409, a missing (or another therapist's) what with 404,
// anything else with 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, what string) {
	var (
		p *clinic.Problem
		c *clinic.Conflict
		l *clinic.Limited
	)
	switch {
	case errors.As(err, &p):
		writeError(w, http.StatusBadRequest, p.Msg)
	case errors.As(err, &c):
		writeError(w, http.StatusConflict, c.Msg)
	case errors.As(err, &l):
		writeError(w, http.StatusTooManyRequests, l.Msg)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, what+" not found")
	default:
		s.internal(w, r, err)
	}
}

// decodeJSON reads a JSON body of at most limit bytes with no unknown fields.
// It writes the error response itself and reports whether to go on.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "the body is not valid JSON for this endpoint: "+jsonMessage(err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "the body holds more than one JSON value")
		return false
	}
	return true
}

func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Sprintf("%s must not be a JSON %s", field, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// url builds an absolute URL under the base URL.
func (s *Server) url(path string) string { return s.Clinic.URL(path) }

// today is the patient's local date now.
func (s *Server) today(p store.Patient) programs.Date { return s.Clinic.Today(p) }

// parseDate reads a date a request gives. The clinic takes the zero date,
// 1970-01-01, to mean today, so that date is refused here rather than read
// as today: no plan is that far from now.
func parseDate(s string) (programs.Date, error) {
	d, err := programs.ParseDate(s)
	if err == nil && d == 0 {
		return 0, fmt.Errorf("%s is decades from today: give a date near today", s)
	}
	return d, err
}
