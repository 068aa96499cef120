package web

// The links pacer hands out beyond the check-in page: a session's link,
// /s/{token}, which a calendar event carries and which shows that one
// session and records it done, partial or skipped, nothing else; and a
// channel's confirmation link, /confirm/{token}, sent to an address a
// patient added. Both pages are plain, in the patient's language, and work
// without JavaScript. A GET never changes anything (mail scanners and
// calendar apps open links); the buttons post.

import (
	"bytes"
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

// linkRoutes registers the session and confirmation links.
func (s *Server) linkRoutes(mux *http.ServeMux) {
	lp := &linkPages{Server: s, pages: mustPages()}
	mux.HandleFunc("GET /s/{token}", lp.sessionPage)
	mux.HandleFunc("POST /s/{token}", lp.sessionCheckIn)
	mux.HandleFunc("GET /confirm/{token}", lp.confirmPage)
	mux.HandleFunc("POST /confirm/{token}", lp.confirm)
}

type linkPages struct {
	*Server
	pages *pages
}

// linkView is what patient_link.html renders: one session, or one
// confirmation.
type linkView struct {
	cat   *i18n.Catalog
	Lang  string
	Title string
	// A session.
	Name, Amount, When, Instructions, Recorded string
	Action                                     string // where the buttons post; empty: no buttons
	Unit                                       string
	Note                                       string // why there are no buttons
	// A confirmation.
	Text string
	// Either.
	Saved, Error string
}

// T is a catalogue message without arguments, for the template.
func (v *linkView) T(id string) string { return v.cat.Text(id, nil) }

func (lp *linkPages) render(w http.ResponseWriter, r *http.Request, status int, name string, v *linkView) {
	var buf bytes.Buffer
	t, ok := lp.pages.tmpl["patient_link.html"]
	if !ok {
		lp.internal(w, r, errors.New("no template patient_link.html"))
		return
	}
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		lp.internal(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

// notFound answers a link that is not (or no longer) valid with 404, after
// counting it against the sender's address.
func (lp *linkPages) notFound(w http.ResponseWriter, r *http.Request) {
	if !lp.failures.allow(clientAddr(r)) {
		plain(w, http.StatusTooManyRequests, "Too many unknown links. Wait a minute, then try again.")
		return
	}
	v := &linkView{cat: i18n.For(i18n.English), Lang: "en"}
	if l, ok := i18n.Lookup(r.Header.Get("Accept-Language")); ok {
		v.cat, v.Lang = i18n.For(l), string(l)
	}
	v.Title, v.Text = v.T("link.invalid.title"), v.T("link.invalid.text")
	lp.render(w, r, http.StatusNotFound, "link_message", v)
}

// session resolves a session link, answering 404 or 429 itself.
func (lp *linkPages) session(w http.ResponseWriter, r *http.Request) (clinic.SessionLink, bool) {
	tok := r.PathValue("token")
	if len(tok) > maxTokenLen {
		lp.notFound(w, r)
		return clinic.SessionLink{}, false
	}
	l, err := lp.Clinic.SessionByLink(r.Context(), tok)
	if errors.Is(err, store.ErrNotFound) {
		lp.notFound(w, r)
		return l, false
	}
	if err != nil {
		lp.internal(w, r, err)
		return l, false
	}
	if !lp.perToken.allow(string(store.HashToken(tok))) {
		plain(w, http.StatusTooManyRequests, "Too many requests. Wait a moment, then try again.")
		return l, false
	}
	return l, true
}

// sessionView words the session of a link for its patient.
func (lp *linkPages) sessionView(r *http.Request, l clinic.SessionLink) (*linkView, error) {
	set, err := lp.Store.NotifySettings(r.Context(), l.Patient.ID)
	if err != nil {
		return nil, err
	}
	cat := i18n.For(i18n.Parse(set.Language))
	x := l.Session
	v := &linkView{cat: cat, Lang: string(cat.Lang()), Title: cat.Text("link.session.title", nil),
		Name: x.Activity, Amount: amountIn(cat, x.Unit, x.Dose, x.Sets),
		When: cat.Text("link.session.when", i18n.Args{"day": cat.Day(x.Date), "time": x.Time.String()}),
		Unit: cat.Text("page.unit."+string(x.Unit), nil)}
	if l.Program != nil {
		if a, ok := l.Program.Activity(x.Activity); ok {
			v.Name, v.Instructions = a.Name, a.Instructions
		}
	}
	if x.Status != programs.Planned && x.Status != programs.Missed {
		v.Recorded = cat.Text("page.session.recorded", i18n.Args{"text": cat.Text("page.status."+string(x.Status), nil)})
	}
	today := lp.today(l.Patient)
	switch {
	case x.Status == programs.Cancelled || x.Extra:
		v.Note = cat.Text("link.session.cancelled", nil)
	case x.Date > today:
		v.Note = cat.Text("link.session.future", nil)
	case x.Date < today.AddDays(-clinic.CheckInBackDays):
		v.Note = cat.Text("link.session.old", nil)
	default:
		v.Action = "/s/" + url.PathEscape(r.PathValue("token"))
	}
	if r.URL.Query().Get("saved") != "" {
		v.Saved = cat.Text("page.saved", nil)
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

// sessionCheckIn records the link's session done, partial or skipped: from
// the page's form (then back to the page), or as JSON {"status","dose"}.
func (lp *linkPages) sessionCheckIn(w http.ResponseWriter, r *http.Request) {
	l, ok := lp.session(w, r)
	if !ok {
		return
	}
	var in struct {
		Status programs.Status `json:"status"`
		Dose   *int            `json:"dose,omitempty"`
	}
	form := !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
	if form {
		if !parseForm(w, r) {
			return
		}
		in.Status = programs.Status(r.PostForm.Get("status"))
		if d := strings.TrimSpace(r.PostForm.Get("dose")); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil {
				lp.sessionProblem(w, r, l, http.StatusBadRequest, fmt.Sprintf("dose must be a whole number, not %q", d))
				return
			}
			in.Dose = &n
		}
	} else if !decodeJSON(w, r, maxJSONBody, &in) {
		return
	}
	rec, err := lp.Clinic.CheckInSession(r.Context(), l, in.Status, in.Dose)
	if err != nil {
		if !form {
			lp.fail(w, r, err, "session")
			return
		}
		var (
			p   *clinic.Problem
			c   *clinic.Conflict
			lim *clinic.Limited
		)
		switch {
		case errors.As(err, &p):
			lp.sessionProblem(w, r, l, http.StatusBadRequest, p.Msg)
		case errors.As(err, &c):
			lp.sessionProblem(w, r, l, http.StatusConflict, c.Msg)
		case errors.As(err, &lim):
			lp.sessionProblem(w, r, l, http.StatusTooManyRequests, lim.Msg)
		case errors.Is(err, store.ErrNotFound):
			lp.notFound(w, r)
		default:
			lp.internal(w, r, err)
		}
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
	v := &linkView{cat: cat, Lang: string(cat.Lang()), Title: cat.Text("link.confirm.title", nil),
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
	v.Saved = v.T("link.confirm.done")
	lp.render(w, r, http.StatusOK, "confirm_link", v)
}
