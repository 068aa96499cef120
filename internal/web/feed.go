package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/feed"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// The feed window: the last 14 days (so cancelled events reach clients) and
// the next 8 weeks.
const (
	feedDaysBack  = 14
	feedDaysAhead = 56
)

// feedCache keeps each patient's last rendered feed. An entry is valid while
// the patient's feed version and local day are unchanged, so serving an
// unchanged feed costs one store read (the token lookup) and no re-plan.
type feedCache struct {
	mu      sync.Mutex
	max     int
	entries map[int64]*feedEntry
}

type feedEntry struct {
	version  int64
	day      programs.Date
	body     []byte
	etag     string
	modified time.Time
}

func newFeedCache(max int) *feedCache {
	return &feedCache{max: max, entries: map[int64]*feedEntry{}}
}

func (c *feedCache) get(patientID, version int64, day programs.Date) *feedEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[patientID]; e != nil && e.version == version && e.day == day {
		return e
	}
	return nil
}

func (c *feedCache) put(patientID int64, e *feedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max { // drop an arbitrary entry; a miss only costs a render
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[patientID] = e
}

func (c *feedCache) forget(patientID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, patientID)
}

func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
	if !ok || tok == "" {
		http.NotFound(w, r)
		return
	}
	p, err := s.Store.PatientByFeedToken(r.Context(), store.HashToken(tok))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.internal(w, r, err)
			return
		}
		// Never 410: Thunderbird disables a calendar for good on 410.
		if !s.failures.allow(clientAddr(r)) {
			http.Error(w, "too many unknown feeds; wait a minute", http.StatusTooManyRequests)
			return
		}
		http.NotFound(w, r)
		return
	}
	loc, err := s.Clinic.Zone(p.Timezone)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	today := programs.DateOf(s.Now().In(loc))
	e := s.feeds.get(p.ID, p.FeedVersion, today)
	if e == nil {
		if e, err = s.renderFeed(r.Context(), p, today); err != nil {
			s.internal(w, r, err)
			return
		}
		s.feeds.put(p.ID, e)
	}
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("ETag", e.etag)
	h.Set("Cache-Control", "private, no-cache")
	// ServeContent answers HEAD, If-None-Match and If-Modified-Since.
	http.ServeContent(w, r, "", e.modified, bytes.NewReader(e.body))
}

// renderFeed builds the patient's calendar from the stored sessions, each
// worded (clinic.Reasons.SessionWords) from the stored plan it belongs to,
// in the patient's language: the engine does not run.
func (s *Server) renderFeed(ctx context.Context, p store.Patient, today programs.Date) (*feedEntry, error) {
	sessions, err := s.Store.Sessions(ctx, p.ID, today.AddDays(-feedDaysBack), today.AddDays(feedDaysAhead))
	if err != nil {
		return nil, err
	}
	set, err := s.Store.NotifySettings(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	cat := i18n.For(i18n.Parse(set.Language))
	reasons, err := s.reasons(ctx, p, cat)
	if err != nil {
		return nil, err
	}
	loc, err := s.Clinic.Zone(p.Timezone)
	if err != nil {
		return nil, err
	}
	cal := feed.Calendar{Name: cat.Text("feed.name", nil), Alarm: p.Alarm}
	var modified time.Time
	for _, x := range sessions {
		r := reasons[x.AssignmentID]
		if r == nil { // an ended program's session without a stored plan
			r = clinic.NewReasons(cat, nil, store.Plan{})
		}
		words := r.SessionWords(p, x)
		link := s.Clinic.SessionURL(p, x) // this session only: never the check-in link
		cal.Events = append(cal.Events, feed.Event{
			UID:          fmt.Sprintf("session-%d@pacer", x.ID),
			Start:        x.Date.In(loc, int(x.Time)).UTC(),
			Duration:     feed.Duration(x.Unit, x.Dose, x.Sets),
			Title:        words.Title,
			Description:  words.Description + "\n\n" + cat.Text("feed.checkin", i18n.Args{"url": link}),
			URL:          link,
			Status:       feed.Status(x.Status, x.Projected),
			Sequence:     x.Revision,
			LastModified: x.UpdatedAt.UTC(),
			NoAlarm:      !words.Alarm,
		})
		if x.UpdatedAt.After(modified) {
			modified = x.UpdatedAt
		}
	}
	body, err := feed.Render(cal)
	if err != nil {
		return nil, fmt.Errorf("feed: render: %w", err)
	}
	if modified.IsZero() {
		modified = p.CreatedAt
	}
	return &feedEntry{version: p.FeedVersion, day: today, body: body, etag: feed.ETag(body), modified: modified.UTC()}, nil
}

// reasons are the wording of each of the patient's stored plans, ended
// programs' included, by assignment.
func (s *Server) reasons(ctx context.Context, p store.Patient, cat *i18n.Catalog) (map[int64]*clinic.Reasons, error) {
	as, err := s.Store.AllAssignments(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*clinic.Reasons, len(as))
	for _, a := range as {
		sp, err := s.Store.Plan(ctx, a.ID)
		if errors.Is(err, store.ErrNotFound) {
			sp = store.Plan{} // not planned yet: doses without reasons
		} else if err != nil {
			return nil, err
		}
		out[a.ID] = clinic.NewReasons(cat, a.Program, sp)
	}
	return out, nil
}
