package web

// The patient's check-in page, /c/{token}: today's sessions with their
// buttons, pain, flare and settled, the weekly signals, the red-flag screen,
// why today's dose is what it is, the week ahead, the calendar subscription
// and the reminder settings; plus the web app manifest and the service worker
// that let the page install to the home screen and receive Web Push. Every
// form posts without JavaScript; checkin.js only adds Web Push.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"rsc.io/qr"

	"pacer/internal/clinic"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// patientRoutes registers the check-in page, its settings form, its manifest
// and the service worker.
func (s *Server) patientRoutes(mux *http.ServeMux) {
	pp := &patientPages{Server: s, pages: mustPages()}
	mux.HandleFunc("GET /c/{token}", pp.page)
	mux.HandleFunc("POST /c/{token}/settings", pp.postSettings)
	mux.HandleFunc("POST /c/{token}/rotate", pp.rotate)
	mux.HandleFunc("GET /c/{token}/manifest.webmanifest", pp.manifest)
	mux.HandleFunc("GET /sw.js", pp.serviceWorker)
}

type patientPages struct {
	*Server
	pages *pages
}

// checkinView is what patient_checkin.html renders.
type checkinView struct {
	cat             *i18n.Catalog
	Lang            string
	Base            string // /c/{token}
	TodayLabel      string
	Saved           string
	RedFlagGuidance string
	Paused, InFlare bool
	Today           []todaySession
	Why             []whyLine
	Week            []weekSession
	Scale           []int
	Signals         []signalField
	RedFlags        []redFlagQuestion
	Feed            string
	Webcal          template.URL // html/template would refuse the webcal: scheme otherwise
	QR              template.HTML
	Settings        settingsForm
	SettingsError   string
}

// T is a catalogue message without arguments, for the template.
func (v *checkinView) T(id string) string { return v.cat.Text(id, nil) }

type todaySession struct {
	ID                                 int64
	Assignment                         int64
	Activity, Name, Instructions       string
	Date, Time, Amount, Unit, Recorded string
}

// whyLine is an activity's dose today and why.
type whyLine struct{ Activity, Name, Amount, Reason string }

type weekSession struct {
	Day, Time, Name, Amount, Status string
	Tentative                       bool
}

type signalField struct{ Name, Label string }

// redFlagQuestion is a question of the red-flag screen in the page's language.
type redFlagQuestion struct{ ID, Question string }

// settingsForm is the reminder settings as the form shows them.
type settingsForm struct {
	Email, NtfyTopic, Webhook string
	QuietStart, QuietEnd      string
	EmailPending              bool // the email address waits for its confirmation
}

// page renders the check-in page.
func (pp *patientPages) page(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	v, err := pp.view(r, p)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	q := r.URL.Query()
	if q.Get("guidance") == "red_flag" {
		v.RedFlagGuidance = v.cat.Text("redflag.guidance", nil)
	}
	switch q.Get("saved") {
	case "":
	case "flare":
		v.Saved = v.T("page.saved.flare")
	case "settled":
		v.Saved = v.T("page.saved.settled")
	case "settings":
		v.Saved = v.T("page.saved.settings")
	case "rotated":
		v.Saved = v.T("page.rotate.done")
	case "red_flag":
		if v.RedFlagGuidance == "" {
			v.Saved = v.T("page.redflag.none")
		}
	default:
		v.Saved = v.T("page.saved")
	}
	pp.render(w, r, http.StatusOK, v)
}

func (pp *patientPages) render(w http.ResponseWriter, r *http.Request, status int, v *checkinView) {
	var buf bytes.Buffer
	t, ok := pp.pages.tmpl["patient_checkin.html"]
	if !ok {
		pp.internal(w, r, fmt.Errorf("no template patient_checkin.html"))
		return
	}
	if err := t.ExecuteTemplate(&buf, "patient", v); err != nil {
		pp.internal(w, r, fmt.Errorf("render check-in page: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

// view gathers the page's data: sessions, doses, reasons and the pause and
// flare state, all as the last re-plan stored them.
func (pp *patientPages) view(r *http.Request, p store.Patient) (*checkinView, error) {
	ctx := r.Context()
	token := r.PathValue("token")
	set, err := pp.Store.NotifySettings(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	cat := i18n.For(i18n.Parse(set.Language))
	today := pp.today(p)
	feedURL := pp.Clinic.Links(p).FeedURL
	v := &checkinView{
		cat: cat, Lang: string(cat.Lang()), Base: "/c/" + token,
		TodayLabel: cat.Day(today), RedFlags: redFlagsIn(cat),
		Scale: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		Feed:  feedURL, Webcal: template.URL(clinic.WebcalURL(feedURL)), QR: qrSVG(feedURL, cat.Text("page.cal.qr.title", nil)),
	}
	for _, f := range []string{"function", "symptoms", "confidence"} {
		v.Signals = append(v.Signals, signalField{f, cat.Text("page.weekly."+f, nil)})
	}

	assignments, err := pp.Store.Assignments(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	sessions, err := pp.Store.Sessions(ctx, p.ID, today, today.AddDays(7))
	if err != nil {
		return nil, err
	}
	reasons := map[int64]*clinic.Reasons{}
	for _, a := range assignments {
		sp, err := pp.Store.Plan(ctx, a.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // not planned yet (just after an upgrade)
		} else if err != nil {
			return nil, err
		}
		rs := clinic.NewReasons(cat, a.Program, sp)
		reasons[a.ID] = rs
		v.InFlare = v.InFlare || sp.Header.FlareOn != 0
		v.Paused = v.Paused || sp.Header.Pause != ""
		if sp.Header.Pause == programs.PausedByRedFlag {
			v.RedFlagGuidance = cat.Text("redflag.guidance", nil)
		}
		v.Why = append(v.Why, whyToday(rs, a, today, sessions)...)
	}

	for _, x := range sessions {
		if x.Status == programs.Cancelled {
			continue
		}
		n, instr := x.Activity, ""
		if a := activityOf(assignments, x); a != nil {
			n, instr = a.Name, a.Instructions
		}
		if x.Date == today {
			ts := todaySession{ID: x.ID, Assignment: x.AssignmentID, Activity: x.Activity, Name: n, Instructions: instr,
				Date: x.Date.String(), Time: x.Time.String(), Amount: amountIn(cat, x.Unit, x.Dose, x.Sets),
				Unit: cat.Text("page.unit."+string(x.Unit), nil)}
			if x.Status != programs.Planned && x.Status != programs.Missed {
				ts.Recorded = cat.Text("page.session.recorded", i18n.Args{"text": cat.Text("page.status."+string(x.Status), nil)})
			}
			v.Today = append(v.Today, ts)
			continue
		}
		ws := weekSession{Day: cat.Day(x.Date), Time: x.Time.String(), Name: n,
			Amount: amountIn(cat, x.Unit, x.Dose, x.Sets), Tentative: x.Projected}
		if x.Status != programs.Planned {
			ws.Status = cat.Text("page.status."+string(x.Status), nil)
		}
		v.Week = append(v.Week, ws)
	}

	chs, err := pp.Store.Channels(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	v.Settings = settingsFormOf(chs, set)
	return v, nil
}

// activityOf is a session's activity in its program.
func activityOf(as []store.Assignment, x store.Session) *programs.Activity {
	for _, a := range as {
		if a.ID == x.AssignmentID {
			act, _ := a.Program.Activity(x.Activity)
			return act
		}
	}
	return nil
}

// whyToday is each activity's dose and its reason in the week holding
// today: the dose and reason of its next session from today on (a flare
// declared today gives the reason "the cut starts tomorrow", and from
// tomorrow the step-back's), else the week's decision; while paused, why.
func whyToday(rs *clinic.Reasons, a store.Assignment, today programs.Date, sessions []store.Session) []whyLine {
	if today < a.Start {
		return nil
	}
	week := int(today-a.Start)/7 + 1
	var out []whyLine
	for _, act := range a.Program.Activities {
		aw, ok := rs.ActivityWeek(week, act.ID)
		if !ok {
			continue
		}
		dose, sets, unit, reason := aw.Dose, aw.Sets, aw.Unit, rs.Week(week, act.ID)
		for _, x := range sessions {
			if x.AssignmentID == a.ID && x.Activity == act.ID && x.Week == week && x.Status != programs.Cancelled {
				dose, reason = x.Dose, rs.Session(x)
				break
			}
		}
		if why := rs.Paused(); why != "" {
			reason = why
		}
		out = append(out, whyLine{Activity: act.ID, Name: act.Name, Amount: amountIn(rs.Cat, unit, dose, sets), Reason: reason})
	}
	return out
}

// amountIn renders a dose with its sets, e.g. "14 minutes", "2 × 8 reps".
func amountIn(cat *i18n.Catalog, u programs.Unit, dose, sets int) string {
	a := cat.Amount(u, dose)
	if sets > 1 {
		a = cat.Text("amount.sets", i18n.Args{"sets": sets, "amount": a})
	}
	return a
}

// redFlagsIn are the red-flag questions in the catalogue's language.
func redFlagsIn(cat *i18n.Catalog) []redFlagQuestion {
	out := make([]redFlagQuestion, len(programs.RedFlags))
	for i, f := range programs.RedFlags {
		out[i] = redFlagQuestion{ID: f.ID, Question: cat.Text("redflag.q."+f.ID, nil)}
	}
	return out
}

// qrSVG draws text as a QR code in inline SVG, one rect per run of dark
// modules, with a four-module quiet zone. It is drawn on the server, so the
// page needs no script for it.
func qrSVG(text, title string) template.HTML {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "" // a URL too long for a QR code; the address is on the page anyway
	}
	const quiet = 4
	n := code.Size + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="qr-code" viewBox="0 0 %d %d" width="240" height="240" role="img" aria-labelledby="qr-title" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<title id="qr-title">%s</title><rect width="%d" height="%d" fill="#fff"/>`, template.HTMLEscapeString(title), n, n)
	for y := 0; y < code.Size; y++ {
		for x := 0; x < code.Size; {
			if !code.Black(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < code.Size && code.Black(x+run, y) {
				run++
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="1" fill="#000"/>`, x+quiet, y+quiet, run)
			x += run
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built here from numbers and an escaped title
}

// settingsFormOf fills the form from the first email, ntfy and webhook
// channel; the form manages those three.
func settingsFormOf(chs []store.Channel, set store.NotifySettings) settingsForm {
	f := settingsForm{QuietStart: programs.Clock(set.QuietStart).String(), QuietEnd: programs.Clock(set.QuietEnd).String()}
	for _, ch := range chs {
		var c struct {
			Address, Topic, URL string
		}
		json.Unmarshal(ch.Config, &c) //nolint:errcheck // a stored channel; a bad one shows empty
		switch {
		case ch.Type == "email" && f.Email == "":
			f.Email, f.EmailPending = c.Address, ch.Pending
		case ch.Type == "ntfy" && f.NtfyTopic == "":
			f.NtfyTopic = c.Topic
		case ch.Type == "webhook" && f.Webhook == "":
			f.Webhook = c.URL
		}
	}
	return f
}

// postSettings saves the reminder settings form through saveChannels, the
// same checks as PUT /c/{token}/channels. Channels the form does not show
// (Pushover, Telegram, further ones of a type, Web Push) are kept; a field
// left as it was keeps its channel's stored settings (an ntfy server).
func (pp *patientPages) postSettings(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	if !parseForm(w, r) {
		return
	}
	f := r.PostForm
	chs, err := pp.Store.Channels(r.Context(), p.ID)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	set, err := pp.Store.NotifySettings(r.Context(), p.ID)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	old := settingsFormOf(chs, set)
	in := channelsBody{Channels: []json.RawMessage{}}
	seen := map[string]bool{}
	for _, ch := range chs {
		switch ch.Type {
		case "webpush": // saveChannels keeps these itself
		case "email", "ntfy", "webhook":
			if seen[ch.Type] {
				in.Channels = append(in.Channels, ch.Config)
				continue
			}
			seen[ch.Type] = true // the form's field stands for the first one
		default:
			in.Channels = append(in.Channels, ch.Config)
		}
	}
	field := func(typ, posted, was string, build func(string) any) {
		posted = strings.TrimSpace(posted)
		if posted == "" {
			return
		}
		if posted == was {
			for _, ch := range chs {
				if ch.Type == typ {
					in.Channels = append(in.Channels, ch.Config)
					return
				}
			}
		}
		raw, _ := json.Marshal(build(posted))
		in.Channels = append(in.Channels, raw)
	}
	field("email", f.Get("email"), old.Email, func(v string) any { return map[string]string{"type": "email", "address": v} })
	field("ntfy", f.Get("ntfy_topic"), old.NtfyTopic, func(v string) any { return map[string]string{"type": "ntfy", "topic": v} })
	field("webhook", f.Get("webhook_url"), old.Webhook, func(v string) any { return map[string]string{"type": "webhook", "url": v} })
	in.QuietHours = &struct {
		Start string `json:"start"`
		End   string `json:"end"`
		Drop  bool   `json:"drop,omitempty"`
	}{f.Get("quiet_start"), f.Get("quiet_end"), set.QuietDrop}
	if l := f.Get("language"); l != "" {
		in.Language = &l
	}
	set2 := in.settings()
	set2.ByPatient = true
	err = pp.Clinic.SetSettings(r.Context(), p, set2)
	if bad, ok := errors.AsType[*clinic.Problem](err); ok {
		v, err := pp.view(r, p)
		if err != nil {
			pp.internal(w, r, err)
			return
		}
		v.SettingsError = v.cat.Text("page.settings.error", i18n.Args{"text": bad.Msg})
		v.Settings = settingsForm{Email: f.Get("email"), NtfyTopic: f.Get("ntfy_topic"), Webhook: f.Get("webhook_url"),
			QuietStart: f.Get("quiet_start"), QuietEnd: f.Get("quiet_end")}
		pp.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	http.Redirect(w, r, "/c/"+url.PathEscape(r.PathValue("token"))+"?saved=settings#reminders", http.StatusSeeOther)
}

// rotate gives the patient a new check-in link (and calendar link), after
// they shared theirs by mistake, and takes them to the new page, which says
// so once. The old links answer 404 from now on.
func (pp *patientPages) rotate(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	links, err := pp.Clinic.RotateCheckinLink(r.Context(), p.TherapistID, p.ID)
	if err != nil {
		pp.fail(w, r, err, "patient")
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, links.CheckinURL+"?saved=rotated", http.StatusSeeOther)
}

// manifest is the web app manifest of a patient's page: it starts at their
// own /c/{token}, so the home-screen app opens their plan.
func (pp *patientPages) manifest(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	set, err := pp.Store.NotifySettings(r.Context(), p.ID)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	cat := i18n.For(i18n.Parse(set.Language))
	type icon struct {
		Src     string `json:"src"`
		Sizes   string `json:"sizes"`
		Type    string `json:"type"`
		Purpose string `json:"purpose,omitempty"`
	}
	m := struct {
		Name            string `json:"name"`
		ShortName       string `json:"short_name"`
		Lang            string `json:"lang"`
		StartURL        string `json:"start_url"`
		Scope           string `json:"scope"`
		Display         string `json:"display"`
		BackgroundColor string `json:"background_color"`
		ThemeColor      string `json:"theme_color"`
		Icons           []icon `json:"icons"`
	}{
		Name: cat.Text("page.manifest.name", nil), ShortName: "pacer", Lang: string(cat.Lang()),
		StartURL: "/c/" + r.PathValue("token"), Scope: "/c/", Display: "standalone",
		BackgroundColor: "#f6f7f9", ThemeColor: "#1d4ed8",
		Icons: []icon{
			{pp.pages.paths["icon-192.png"], "192x192", "image/png", "any"},
			{pp.pages.paths["icon-512.png"], "512x512", "image/png", "any maskable"},
		},
	}
	body, err := json.Marshal(m)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/manifest+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body) //nolint:errcheck // the client went away
}

// serviceWorker serves sw.js at a stable root path, so that it may control
// /c/ (a worker's scope cannot reach above its own path), uncached so that a
// new release's worker is picked up.
func (pp *patientPages) serviceWorker(w http.ResponseWriter, r *http.Request) {
	body, err := staticFiles.ReadFile("static/sw.js")
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Service-Worker-Allowed", "/c/")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
