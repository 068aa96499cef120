package web

// What the external tests (package web_test, which build the server with
// daemon.New) need of the package's insides. Compiled into tests only.

import (
	"context"
	"net/http"

	"pacer/internal/store"
	"pacer/programs"
)

// Names the sign-in tests check against.
const (
	SessionCookie = sessionCookie
	WrongLogin    = wrongLogin
	LoginBurst    = loginBurst
	LoginFree     = loginFree
)

// FeedDays is the feed's window as the feed renders it (clinic's estimate
// of a feed's size must use the same).
const FeedDaysBack, FeedDaysAhead = feedDaysBack, feedDaysAhead

// TherapistOf is the therapist signed in by the request's session cookie.
func (s *Server) TherapistOf(r *http.Request) (store.Therapist, error) { return s.therapist(r) }

// RenderFeed renders the patient's feed for today, bypassing the cache, and
// returns its size in bytes.
func (s *Server) RenderFeed(ctx context.Context, p store.Patient, today programs.Date) (int, error) {
	e, err := s.renderFeed(ctx, p, today)
	if err != nil {
		return 0, err
	}
	return len(e.plain.body), nil
}

// LimiterKeys is how many keys the per-token and the per-address limiters
// hold, and their bound.
func (s *Server) LimiterKeys() (perToken, failures, bound int) {
	return s.perToken.buckets.len(), s.failures.buckets.len(), limiterKeys
}
