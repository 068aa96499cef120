package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/feed"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
	if !ok || tok == "" {
		http.NotFound(w, r)
		return
	}
	key := tokenHash(tok)
	e := s.feeds.get(&key, s.Now())
	if e == nil {
		gen := s.feeds.generation() // before the first read: see feedCache
		hash := key                 // escapes to the store; key stays on the stack
		p, err := s.Store.PatientByFeedToken(r.Context(), hash[:])
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
		if e, err = s.renderFeed(r.Context(), p, today); err != nil {
			s.internal(w, r, err)
			return
		}
		e.key = key
		e.until = today.AddDays(1).In(loc, 0) // the window moves at the next local midnight
		s.feeds.put(e, gen)
	}
	serveFeed(w, r, e)
}

// tokenHash is store.HashToken's hash as an array, made without
// allocating: a token is 43 characters.
func tokenHash(tok string) [sha256.Size]byte {
	var buf [64]byte
	if len(tok) > len(buf) {
		return sha256.Sum256([]byte(tok))
	}
	return sha256.Sum256(buf[:copy(buf[:], tok)])
}

// Header values shared by every feed response; net/http only reads them.
var (
	calendarType     = header("text/calendar; charset=utf-8")
	feedCacheControl = header("private, no-cache")
	varyEncoding     = header("Accept-Encoding")
	gzipEncoding     = header("gzip")
)

// header is a one-value header that an append cannot write through.
func header(v string) []string { return []string{v}[:1:1] }

// serveFeed answers GET and HEAD from a rendered feed: gzip for a client
// that prefers it, else the plain body; 304 when the client's copy is
// current. It does what http.ServeContent would for a whole body, without
// Range (no calendar client asks for part of a feed) and without building
// anything per request. Both encodings carry their own strong ETag, and
// If-None-Match accepts either: they are one content, so a client holding
// either is up to date.
func serveFeed(w http.ResponseWriter, r *http.Request, e *feedEntry) {
	b := &e.plain
	gz := acceptsGzip(r.Header["Accept-Encoding"])
	if gz {
		b = &e.gzip
	}
	h := w.Header()
	h["Vary"] = varyEncoding
	h["Cache-Control"] = feedCacheControl
	h["Etag"] = b.etagHeader // keys as http.CanonicalHeaderKey writes them
	if e.notModified(r) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = calendarType
	h["Last-Modified"] = e.lastModified
	if gz {
		h["Content-Encoding"] = gzipEncoding
	}
	h["Content-Length"] = b.contentLength
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b.body)
	}
}

// notModified evaluates If-None-Match, or else If-Modified-Since (RFC 9110
// §13.2.2), against the feed.
func (e *feedEntry) notModified(r *http.Request) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		for _, v := range inm {
			if etagListHas(v, e.plain.etag, e.gzip.etag) {
				return true
			}
		}
		return false
	}
	ims := r.Header["If-Modified-Since"]
	if len(ims) == 0 {
		return false
	}
	if ims[0] == e.lastModified[0] {
		return true
	}
	t, err := http.ParseTime(ims[0])
	return err == nil && !e.modified.After(t)
}

// etagListHas reports whether an If-None-Match value lists one of the tags,
// by weak comparison (a W/ prefix is ignored), or is "*".
func etagListHas(list string, tags ...string) bool {
	for list != "" {
		list = strings.TrimLeft(list, " \t,")
		if list == "" {
			return false
		}
		if list[0] == '*' {
			return true
		}
		list = strings.TrimPrefix(list, "W/")
		if list == "" || list[0] != '"' {
			return false // malformed: not a list of entity tags
		}
		end := strings.IndexByte(list[1:], '"')
		if end < 0 {
			return false
		}
		tag := list[:end+2]
		for _, t := range tags {
			if tag == t {
				return true
			}
		}
		list = list[end+2:]
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding values ask for gzip at least
// as much as for the plain body (RFC 9110 §12.5.3): q-values count, "*"
// stands for a coding not named, identity is acceptable unless refused. No
// header, or an empty one, is the plain body.
func acceptsGzip(values []string) bool {
	gzipQ, identityQ, anyQ := -1.0, -1.0, -1.0
	for _, v := range values {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			coding, params, _ := strings.Cut(item, ";")
			q, ok := qValue(params)
			if !ok {
				continue
			}
			switch coding = strings.TrimSpace(coding); {
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				gzipQ = max(gzipQ, q)
			case strings.EqualFold(coding, "identity"):
				identityQ = max(identityQ, q)
			case coding == "*":
				anyQ = max(anyQ, q)
			}
		}
	}
	if gzipQ < 0 {
		gzipQ = max(anyQ, 0)
	}
	if identityQ < 0 {
		identityQ = 1
		if anyQ >= 0 {
			identityQ = anyQ
		}
	}
	return gzipQ > 0 && gzipQ >= identityQ
}

// qValue is the weight in an Accept-Encoding item's parameters (";q=0.5"),
// 1 when there is none; ok is false when it is malformed.
func qValue(params string) (q float64, ok bool) {
	params = strings.TrimSpace(params)
	if params == "" {
		return 1, true
	}
	name, value, found := strings.Cut(params, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
		return 0, false
	}
	q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil || q < 0 || q > 1 {
		return 0, false
	}
	return q, true
}

// renderFeed builds the patient's calendar from the stored sessions, each
// worded (clinic.Reasons.SessionWords) from the stored plan it belongs to,
// in the patient's language, plain and gzipped: the engine does not run.
func (s *Server) renderFeed(ctx context.Context, p store.Patient, today programs.Date) (*feedEntry, error) {
	sessions, err := s.Store.Sessions(ctx, p.ID, today.AddDays(-clinic.FeedDaysBack), today.AddDays(clinic.FeedDaysAhead))
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
	for _, members := range clinic.SameTime(sessions, func(id int64) *programs.Program {
		if r := reasons[id]; r != nil {
			return r.Program
		}
		return nil
	}) {
		x := members[0]
		r := reasons[x.AssignmentID]
		if r == nil { // an ended program's session without a stored plan
			r = clinic.NewReasons(cat, nil, store.Plan{})
		}
		ev := feed.Event{Start: x.Date.In(loc, int(x.Time)).UTC()}
		if len(members) == 1 {
			words := r.SessionWords(p, x)
			link := s.Clinic.SessionURL(p, x) // this session only: never the check-in link
			ev.UID = fmt.Sprintf("session-%d@pacer", x.ID)
			ev.Duration = feed.Duration(x.Unit, x.Dose, x.Sets)
			ev.Title, ev.Description, ev.URL = words.Title, words.Description+"\n\n"+cat.Text("feed.checkin", i18n.Args{"url": link}), link
			ev.Status, ev.Sequence, ev.LastModified, ev.NoAlarm = feed.Status(x.Status, x.Projected), x.Revision, x.UpdatedAt.UTC(), !words.Alarm
		} else {
			ev = s.groupEvent(p, r, members, ev.Start)
		}
		cal.Events = append(cal.Events, ev)
		if ev.LastModified.After(modified) {
			modified = ev.LastModified
		}
	}
	body, err := feed.Render(cal)
	if err != nil {
		return nil, fmt.Errorf("feed: render: %w", err)
	}
	if modified.IsZero() {
		modified = p.CreatedAt
	}
	modified = modified.UTC().Truncate(time.Second) // as Last-Modified says it
	zipped, err := gzipped(body)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	etag := feed.ETag(body)
	return &feedEntry{patientID: p.ID, modified: modified, lastModified: header(modified.Format(http.TimeFormat)),
		plain: newFeedBody(body, etag),
		gzip:  newFeedBody(zipped, strings.TrimSuffix(etag, `"`)+`-gzip"`)}, nil
}

// gzipped is body compressed as much as gzip can: it is done once per
// change and served many times. The header holds no name and no time, so
// the same body always gives the same bytes.
func gzipped(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(body) / 8)
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return bytes.Clone(buf.Bytes()), nil
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

// groupEvent is the one calendar event of sessions at one time. Its UID
// names its members, so it stays the same while they do, whatever changes
// in them (a time moved for all of them, a dose, a pause), and becomes
// another event when one joins or leaves the group (the old one leaves the
// feed with it). Its SEQUENCE is the sum of its members' revisions, so it
// rises whenever any member changes; its LAST-MODIFIED is the latest of
// theirs. It links the group's page, where each session can be recorded,
// or all at once.
func (s *Server) groupEvent(p store.Patient, r *clinic.Reasons, members []store.Session, start time.Time) feed.Event {
	ids := make([]int64, len(members))
	doses := make([]feed.Dose, 0, len(members))
	seq, status, projected := 0, feed.Cancelled, true
	var modified time.Time
	for i, x := range members {
		ids[i] = x.ID
		seq += x.Revision
		if x.UpdatedAt.After(modified) {
			modified = x.UpdatedAt
		}
		if x.Status == programs.Cancelled {
			continue
		}
		status = feed.Confirmed
		projected = projected && x.Projected
		doses = append(doses, feed.Dose{Unit: x.Unit, Dose: x.Dose, Sets: x.Sets})
	}
	if status != feed.Cancelled && projected {
		status = feed.Tentative
	}
	if len(doses) == 0 {
		for _, x := range members {
			doses = append(doses, feed.Dose{Unit: x.Unit, Dose: x.Dose, Sets: x.Sets})
		}
	}
	slices.Sort(ids)
	uid := "session"
	for _, id := range ids {
		uid += "-" + strconv.FormatInt(id, 10)
	}
	length := feed.GroupDuration(doses)
	words := r.GroupWords(p, members, length)
	link := s.Clinic.GroupURL(p, members[0]) // these sessions only: never the check-in link
	return feed.Event{UID: uid + "@pacer", Start: start, Duration: length, Title: words.Title,
		Description: words.Description + "\n\n" + r.Cat.Text("feed.checkin", i18n.Args{"url": link}),
		URL:         link, Status: status, Sequence: seq, LastModified: modified.UTC(), NoAlarm: !words.Alarm}
}
