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

	"pacer/internal/feed"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// The feed window: the last 14 days (so cancelled events reach clients) and
// the next 8 weeks.
const (
	feedDaysBack    = 14
	feedDaysAhead   = 56
	instructionDays = 7 // sessions from today on that carry the full instructions
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
	loc, err := s.zone(p.Timezone)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	today := programs.DateOf(s.Now().In(loc))
	e := s.feeds.get(p.ID, p.FeedVersion, today)
	if e == nil {
		if e, err = s.renderFeed(r.Context(), p, loc, today); err != nil {
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

// renderFeed builds the patient's calendar from the stored sessions.
func (s *Server) renderFeed(ctx context.Context, p store.Patient, loc *time.Location, today programs.Date) (*feedEntry, error) {
	sessions, err := s.Store.Sessions(ctx, p.ID, today.AddDays(-feedDaysBack), today.AddDays(feedDaysAhead))
	if err != nil {
		return nil, err
	}
	assignments, err := s.Store.Assignments(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	set, err := s.Store.NotifySettings(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	cat := i18n.For(i18n.Parse(set.Language))
	type assignmentInfo struct {
		prog    *programs.Program
		reasons map[string]string // "week/activity" → reason
	}
	info := map[int64]assignmentInfo{}
	for _, a := range assignments {
		prog, err := programs.Parse("assignment", a.Program)
		if err != nil {
			return nil, fmt.Errorf("feed: assignment %d: %w", a.ID, err)
		}
		reasons, err := s.feedReasons(ctx, cat, p, a)
		if err != nil {
			return nil, err
		}
		info[a.ID] = assignmentInfo{prog, reasons}
	}
	checkin := s.CheckinURL(s.Keys.CheckinToken(p.CheckinNonce))
	cal := feed.Calendar{Name: cat.Text("feed.name", nil), Alarm: p.Alarm}
	var modified time.Time
	for _, x := range sessions {
		name, instructions, reason := x.Activity, "", ""
		var programName string
		if ai, ok := info[x.AssignmentID]; ok {
			if a, ok := ai.prog.Activity(x.Activity); ok {
				name, instructions = a.Name, a.Instructions
			}
			programName = ai.prog.Name
			reason = ai.reasons[fmt.Sprintf("%d/%s", x.Week, x.Activity)]
		}
		title := feed.TitleIn(cat, name, x.Unit, x.Dose, x.Sets)
		if !p.Discreet && programName != "" {
			title += " (" + programName + ")"
		}
		status := feed.Status(x.Status, x.Projected)
		var desc strings.Builder
		desc.WriteString(cat.Text("feed.today", i18n.Args{"amount": cat.Amount(x.Unit, x.Dose), "sets": x.Sets, "week": x.Week}))
		if x.Projected {
			desc.WriteString(" " + cat.Text("feed.projected", nil))
		}
		if reason != "" {
			desc.WriteString("\n\n" + reason)
		}
		// The full instructions go with the sessions of the coming week, the
		// ones the patient is about to do; repeating them in every event of
		// the window would take the feed towards Google's 1 MB limit.
		if instructions != "" && x.Date >= today && x.Date < today.AddDays(instructionDays) {
			desc.WriteString("\n\n" + instructions)
		} else if instructions != "" {
			desc.WriteString("\n\n" + cat.Text("feed.instructions_elsewhere", nil))
		}
		desc.WriteString("\n\n" + cat.Text("feed.checkin", i18n.Args{"url": checkin}))
		cal.Events = append(cal.Events, feed.Event{
			UID:          fmt.Sprintf("session-%d@pacer", x.ID),
			Start:        x.Date.In(loc, int(x.Time)).UTC(),
			Duration:     feed.Duration(x.Unit, x.Dose, x.Sets),
			Title:        title,
			Description:  desc.String(),
			URL:          checkin,
			Status:       status,
			Sequence:     x.Revision,
			LastModified: x.UpdatedAt.UTC(),
			NoAlarm:      x.Date < today, // an alarm for a past session helps no one
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

// feedReasons are an assignment's decision reasons by "week/activity". In
// English they are the stored ones; in another language the plan is
// recomputed (only when the feed is rendered, not when it is served from the
// cache) so that each decision renders in the patient's language.
func (s *Server) feedReasons(ctx context.Context, cat *i18n.Catalog, p store.Patient, a store.Assignment) (map[string]string, error) {
	reasons := map[string]string{}
	if cat.Lang() == i18n.English {
		ds, err := s.Store.Decisions(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			reasons[fmt.Sprintf("%d/%s", d.Week, d.Activity)] = d.Reason
		}
		return reasons, nil
	}
	plan, _, err := s.mat.Plan(ctx, p, a)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	for _, w := range plan.Weeks {
		reasons[fmt.Sprintf("%d/", w.Week)] = w.Decision.ReasonIn(cat)
		for _, aw := range w.Activities {
			reasons[fmt.Sprintf("%d/%s", w.Week, aw.ID)] = aw.Decision.ReasonIn(cat)
		}
	}
	return reasons, nil
}
