package web

// The links pacer hands out beyond the check-in page: a session's link,
// /s/{token}, which a calendar event and a reminder carry and which shows
// that one session and records it done, partial or skipped, nothing else; a
// group's link, /g/{token}, which a merged calendar event carries (the
// sessions of one program at one time), the same for those sessions; and a
// channel's confirmation link, /confirm/{token}, sent to an address a
// patient added. Both pages are plain, in the patient's language, and work
// without JavaScript. A GET never changes anything (mail scanners and
// calendar apps open links); the buttons post.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pacer/internal/clinic"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// linkRoutes registers the session, group and confirmation links.
func (s *Server) linkRoutes(mux *http.ServeMux) {
	lp := &linkPages{patientPages: s.patientUI}
	mux.HandleFunc("GET /s/{token}", lp.sessionPage)
	mux.HandleFunc("POST /s/{token}", lp.sessionCheckIn)
	mux.HandleFunc("GET /g/{token}", lp.groupPage)
	mux.HandleFunc("POST /g/{token}", lp.groupCheckIn)
	mux.HandleFunc("GET /confirm/{token}", lp.confirmPage)
	mux.HandleFunc("POST /confirm/{token}", lp.confirm)
}

type linkPages struct {
	*patientPages
}

// linkView is what patient_link.html renders: one session, a group of
// sessions, or one confirmation.
type linkView struct {
	pageBase
	Sessions []linkSession
	Group    bool
	Pending  int    // a group's sessions not logged yet
	Action   string // where the buttons post
	// A confirmation, or a message.
	Text  string
	Error string
}

// linkSession is a session as its link's page shows it.
type linkSession struct {
	ID                               int64
	Name, Amount, When, Instructions string
	Recorded, Unit                   string
	Note                             string // why it cannot be recorded here; empty when it can
}

func (lp *linkPages) render(w http.ResponseWriter, r *http.Request, status int, name string, v *linkView) {
	lp.show(w, r, status, name, v)
}

// notFound answers a link that is not (or no longer) valid with 404, after
// counting it against the sender's address.
func (lp *linkPages) notFound(w http.ResponseWriter, r *http.Request) {
	if !lp.failures.allow(clientAddr(r)) {
		lp.tooBusy(w, r)
		return
	}
	lp.invalidLink(w, r)
}

// session resolves a session link, answering 404 or 429 itself.
func (lp *linkPages) session(w http.ResponseWriter, r *http.Request) (clinic.SessionLink, bool) {
	return resolve(lp, w, r, lp.Clinic.SessionByLink)
}

// resolve finds what the request's link token reaches with find, answering
// 404 (counted against the address) or 429 (too many uses of the token)
// itself.
func resolve[L any](lp *linkPages, w http.ResponseWriter, r *http.Request, find func(context.Context, string) (L, error)) (L, bool) {
	var none L
	tok := r.PathValue("token")
	if len(tok) > maxTokenLen {
		lp.notFound(w, r)
		return none, false
	}
	l, err := find(r.Context(), tok)
	if errors.Is(err, store.ErrNotFound) {
		lp.notFound(w, r)
		return none, false
	}
	if err != nil {
		lp.internal(w, r, err)
		return none, false
	}
	if !lp.perToken.allow(string(store.HashToken(tok))) {
		lp.tooBusy(w, r)
		return none, false
	}
	return l, true
}

// linkSessionOf words a session for its link's page: what it is, and
// whether it can be recorded there today.
func (lp *linkPages) linkSessionOf(cat *i18n.Catalog, p store.Patient, prog *programs.Program, x store.Session) linkSession {
	ls := linkSession{ID: x.ID, Name: x.Activity, Amount: amountIn(cat, x.Unit, x.Dose, x.Sets),
		When: cat.Text("link.session.when", i18n.Args{"day": cat.Day(x.Date), "time": x.Time.String()}),
		Unit: cat.Text("page.unit."+string(x.Unit), nil)}
	if prog != nil {
		if a, ok := prog.Activity(x.Activity); ok {
			ls.Name, ls.Instructions = a.NameIn(string(cat.Lang())), a.InstructionsIn(string(cat.Lang()))
		}
	}
	switch x.Status {
	case programs.Done, programs.Skipped:
		ls.Recorded = cat.Text("page.status."+string(x.Status), nil)
	case programs.Partial:
		ls.Recorded = cat.Text("page.session.partial_amount", i18n.Args{"amount": cat.Amount(x.Unit, x.Actual)})
	}
	today := lp.today(p)
	late := clinic.CheckInBackDays
	if prog != nil {
		late = prog.Rules.LateLogDays
	}
	switch {
	case x.Status == programs.Cancelled || x.Extra:
		ls.Note = cat.Text("link.session.cancelled", nil)
	case x.Date > today:
		ls.Note = cat.Text("link.session.future", nil)
	case x.Date < today.AddDays(-late):
		ls.Note = cat.Text("link.session.old", nil)
	}
	return ls
}

// sessionView words the session of a link for its patient.
func (lp *linkPages) sessionView(r *http.Request, l clinic.SessionLink) (*linkView, error) {
	cat, err := lp.patientCatalog(r, l.Patient)
	if err != nil {
		return nil, err
	}
	v := &linkView{pageBase: lp.base(r, cat, "link.session.title"),
		Sessions: []linkSession{lp.linkSessionOf(cat, l.Patient, l.Program, l.Session)},
		Action:   "/s/" + url.PathEscape(r.PathValue("token"))}
	if r.URL.Query().Get("saved") != "" {
		v.Notice = cat.Text("page.saved", nil)
	}
	return v, nil
}

func (lp *linkPages) sessionPage(w http.ResponseWriter, r *http.Request) {
	l, ok := lp.session(w, r)
	if !ok {
		return
	}
	v, err := lp.sessionView(r, l)
	if err != nil {
		lp.internal(w, r, err)
		return
	}
	lp.render(w, r, http.StatusOK, "session_link", v)
}

// linkPost is what a session's or a group's form, or a Done button (ntfy's
// http action, the service worker's notification action) posts: a status,
// a partial's dose, and in a group the session it is about (none: all).
type linkPost struct {
	Status  programs.Status `json:"status"`
	Dose    *int            `json:"dose,omitempty"`
	Session int64           `json:"session,omitempty"`
}

// readLinkPost reads a link's post from a form, or as JSON; it answers bad
// input itself and reports whether to go on.
func (lp *linkPages) readLinkPost(w http.ResponseWriter, r *http.Request, problem func(msg string)) (linkPost, bool, bool) {
	var in linkPost
	form := !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
	if !form {
		return in, false, decodeJSON(w, r, maxJSONBody, &in)
	}
	if !parseForm(w, r) {
		return in, true, false
	}
	in.Status = programs.Status(r.PostForm.Get("status"))
	if d := strings.TrimSpace(r.PostForm.Get("dose")); d != "" && in.Status == programs.Partial {
		n, err := strconv.Atoi(d)
		if err != nil {
			problem(fmt.Sprintf("dose must be a whole number, not %q", d))
			return in, true, false
		}
		in.Dose = &n
	}
	if raw := r.PostForm.Get("session"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			problem(fmt.Sprintf("session must be a number, not %q", raw))
			return in, true, false
		}
		in.Session = id
	}
	return in, true, true
}

// sessionCheckIn records the link's session done, partial or skipped: from
// the page's form (then back to the page), or as JSON {"status","dose"}.
func (lp *linkPages) sessionCheckIn(w http.ResponseWriter, r *http.Request) {
	l, ok := lp.session(w, r)
	if !ok {
		return
	}
	in, form, ok := lp.readLinkPost(w, r, func(msg string) { lp.sessionProblem(w, r, l, http.StatusBadRequest, msg) })
	if !ok {
		return
	}
	rec, err := lp.Clinic.CheckInSession(r.Context(), l, in.Status, in.Dose)
	if err != nil {
		if !form {
			lp.fail(w, r, err, "session")
			return
		}
		lp.linkError(w, r, err, func(status int, msg string) { lp.sessionProblem(w, r, l, status, msg) })
		return
	}
	if lp.Metrics != nil {
		lp.Metrics.web.CheckIns.WithLabelValues(string(rec.Kind)).Inc()
	}
	if form {
		http.Redirect(w, r, "/s/"+url.PathEscape(r.PathValue("token"))+"?saved=1", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Recorded bool          `json:"recorded"`
		Date     programs.Date `json:"date"`
		Status   string        `json:"status"`
	}{true, rec.Date, string(in.Status)})
}

// linkError answers a form post to a link that the clinic refused: its
// page again with what went wrong, or the page of an invalid link.
func (lp *linkPages) linkError(w http.ResponseWriter, r *http.Request, err error, again func(status int, msg string)) {
	var (
		p   *clinic.Problem
		c   *clinic.Conflict
		lim *clinic.Limited
	)
	switch {
	case errors.As(err, &p):
		again(http.StatusBadRequest, p.Msg)
	case errors.As(err, &c):
		again(http.StatusConflict, c.Msg)
	case errors.As(err, &lim):
		again(http.StatusTooManyRequests, lim.Msg)
	case errors.Is(err, store.ErrNotFound):
		lp.notFound(w, r)
	default:
		lp.internal(w, r, err)
	}
}

// sessionProblem shows the session page again with what went wrong.
func (lp *linkPages) sessionProblem(w http.ResponseWriter, r *http.Request, l clinic.SessionLink, status int, msg string) {
	v, err := lp.sessionView(r, l)
	if err != nil {
		lp.internal(w, r, err)
		return
	}
	v.Error = msg
	lp.render(w, r, status, "session_link", v)
}

// group resolves a group's link, answering 404 or 429 itself.
func (lp *linkPages) group(w http.ResponseWriter, r *http.Request) (clinic.GroupLink, bool) {
	return resolve(lp, w, r, lp.Clinic.GroupByLink)
}

// groupView words a group's sessions for its patient.
func (lp *linkPages) groupView(r *http.Request, l clinic.GroupLink) (*linkView, error) {
	cat, err := lp.patientCatalog(r, l.Patient)
	if err != nil {
		return nil, err
	}
	v := &linkView{pageBase: lp.base(r, cat, "link.group.title"), Group: true,
		Action: "/g/" + url.PathEscape(r.PathValue("token"))}
	for _, x := range l.Sessions {
		ls := lp.linkSessionOf(cat, l.Patient, l.Program, x)
		if ls.Recorded == "" && ls.Note == "" {
			v.Pending++
		}
		v.Sessions = append(v.Sessions, ls)
	}
	if len(v.Sessions) == 0 {
		v.Text = cat.Text("link.session.cancelled", nil)
	}
	if r.URL.Query().Get("saved") != "" {
		v.Notice = cat.Text("page.saved", nil)
	}
	return v, nil
}

func (lp *linkPages) groupPage(w http.ResponseWriter, r *http.Request) {
	l, ok := lp.group(w, r)
	if !ok {
		return
	}
	v, err := lp.groupView(r, l)
	if err != nil {
		lp.internal(w, r, err)
		return
	}
	lp.render(w, r, http.StatusOK, "session_link", v)
}

// groupCheckIn records one session of a group ({"session":ID,"status"}),
// or all of them done ({"status":"done"}).
func (lp *linkPages) groupCheckIn(w http.ResponseWriter, r *http.Request) {
	l, ok := lp.group(w, r)
	if !ok {
		return
	}
	again := func(status int, msg string) {
		v, err := lp.groupView(r, l)
		if err != nil {
			lp.internal(w, r, err)
			return
		}
		v.Error = msg
		lp.render(w, r, status, "session_link", v)
	}
	in, form, ok := lp.readLinkPost(w, r, func(msg string) { again(http.StatusBadRequest, msg) })
	if !ok {
		return
	}
	recs, err := lp.Clinic.CheckInGroup(r.Context(), l, in.Session, in.Status, in.Dose)
	if err != nil {
		if !form {
			lp.fail(w, r, err, "session")
			return
		}
		lp.linkError(w, r, err, again)
		return
	}
	if lp.Metrics != nil {
		lp.Metrics.web.CheckIns.WithLabelValues(string(programs.SessionCheckIn)).Add(float64(len(recs)))
	}
	if form {
		http.Redirect(w, r, "/g/"+url.PathEscape(r.PathValue("token"))+"?saved=1", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Recorded int    `json:"recorded"`
		Status   string `json:"status"`
	}{len(recs), string(in.Status)})
}

// pending resolves a confirmation link, answering 404 itself.
func (lp *linkPages) pending(w http.ResponseWriter, r *http.Request) (store.Channel, *linkView, bool) {
	tok := r.PathValue("token")
	if len(tok) > maxTokenLen {
		lp.notFound(w, r)
		return store.Channel{}, nil, false
	}
	ch, p, err := lp.Clinic.PendingChannel(r.Context(), tok)
	if errors.Is(err, store.ErrNotFound) {
		lp.notFound(w, r)
		return ch, nil, false
	}
	if err != nil {
		lp.internal(w, r, err)
		return ch, nil, false
	}
	set, err := lp.Store.NotifySettings(r.Context(), p.ID)
	if err != nil {
		lp.internal(w, r, err)
		return ch, nil, false
	}
	var c struct{ Address string }
	json.Unmarshal(ch.Config, &c) //nolint:errcheck // a stored channel; a bad one shows no address
	cat := i18n.For(i18n.Parse(set.Language))
	v := &linkView{pageBase: lp.base(r, cat, "link.confirm.title"),
		Text: cat.Text("link.confirm.text", i18n.Args{"address": c.Address}), Action: "/confirm/" + url.PathEscape(tok)}
	return ch, v, true
}

func (lp *linkPages) confirmPage(w http.ResponseWriter, r *http.Request) {
	if _, v, ok := lp.pending(w, r); ok {
		lp.render(w, r, http.StatusOK, "confirm_link", v)
	}
}

func (lp *linkPages) confirm(w http.ResponseWriter, r *http.Request) {
	_, v, ok := lp.pending(w, r)
	if !ok {
		return
	}
	err := lp.Clinic.ConfirmChannel(r.Context(), r.PathValue("token"))
	if errors.Is(err, store.ErrNotFound) { // confirmed or replaced since
		lp.notFound(w, r)
		return
	}
	if err != nil {
		lp.internal(w, r, err)
		return
	}
	v.Action, v.Text = "", ""
	v.Notice = v.T("link.confirm.done")
	lp.render(w, r, http.StatusOK, "confirm_link", v)
}
