package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"pacer/internal/clinic"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// checkinPatient resolves the capability token of a /c/{token} URL.
func (s *Server) checkinPatient(w http.ResponseWriter, r *http.Request) (store.Patient, bool) {
	hash := store.HashToken(r.PathValue("token"))
	p, err := s.Store.PatientByCheckinToken(r.Context(), hash)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.internal(w, r, err)
			return p, false
		}
		if !s.failures.allow(clientAddr(r)) {
			if wantsHTML(r) {
				s.tooBusy(w, r)
				return p, false
			}
			writeError(w, http.StatusTooManyRequests, "too many unknown links; wait a minute")
			return p, false
		}
		if wantsHTML(r) {
			s.invalidLink(w, r) // a person followed it: a page in their language
			return p, false
		}
		writeError(w, http.StatusNotFound, "this check-in link is not valid; ask your therapist for a new one")
		return p, false
	}
	if !s.perToken.allow(string(hash)) {
		if wantsHTML(r) {
			s.tooBusy(w, r)
			return p, false
		}
		writeError(w, http.StatusTooManyRequests, "too many requests; wait a moment")
		return p, false
	}
	return p, true
}

// checkInBody is one check-in object of the check-ins file format, plus the
// assignment when an activity id is in more than one of the patient's programs.
type checkInBody struct {
	programs.CheckIn
	Date       string `json:"date"`
	Assignment int64  `json:"assignment,omitempty"`
}

func (s *Server) postCheckIn(w http.ResponseWriter, r *http.Request) {
	p, ok := s.checkinPatient(w, r)
	if !ok {
		return
	}
	var in checkInBody
	form := strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
	if form {
		var err error
		if in, err = checkInFromForm(w, r); err != nil {
			s.patientUI.formError(w, r, p, &clinic.Problem{Msg: err.Error()})
			return
		}
	} else if !decodeJSON(w, r, maxJSONBody, &in) {
		return
	}
	c := clinic.CheckIn{CheckIn: in.CheckIn, Assignment: in.Assignment}
	if in.Date != "" {
		d, err := parseDate(in.Date)
		if err != nil {
			if form {
				s.patientUI.formError(w, r, p, &clinic.Problem{Msg: "date: " + err.Error()})
				return
			}
			writeError(w, http.StatusBadRequest, "date: "+err.Error())
			return
		}
		c.Date = d
	}
	rec, err := s.Clinic.CheckIn(r.Context(), p, c)
	if err != nil {
		if form {
			s.patientUI.formError(w, r, p, err)
			return
		}
		s.fail(w, r, err, "check-in")
		return
	}
	if s.Metrics != nil {
		s.Metrics.web.CheckIns.WithLabelValues(string(rec.Kind)).Inc()
	}
	redFlag := rec.Kind == programs.RedFlagCheckIn && len(in.Answers) > 0 && rec.Pause == programs.PausedByRedFlag
	out := struct {
		Recorded bool          `json:"recorded"`
		Date     programs.Date `json:"date"`
		Kind     string        `json:"kind"`
		Paused   bool          `json:"paused"`
		InFlare  bool          `json:"in_flare"`
		Guidance string        `json:"guidance,omitempty"`
		// TherapistReachable says whether an alert to the therapist can be
		// delivered: a red-flag answer's guidance claims they were told
		// only when it is.
		TherapistReachable bool `json:"therapist_reachable"`
	}{Recorded: true, Date: rec.Date, Kind: string(rec.Kind), Paused: rec.Paused, InFlare: rec.InFlare,
		TherapistReachable: rec.TherapistReachable}
	if redFlag {
		set, err := s.Store.NotifySettings(r.Context(), p.ID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		cat := i18n.For(i18n.Parse(set.Language))
		told := i18n.TherapistUnreached
		if rec.TherapistReachable {
			told = i18n.TherapistSending
		}
		out.Guidance = redFlagGuidance(cat, rec.Urgency, told, s.ClinicContact)
	}
	if !form {
		writeJSON(w, http.StatusCreated, out)
		return
	}
	// Back to where the patient was, which says what was saved; the weekly
	// questions go on to the warning signs; after a red flag, the page's
	// top shows the guidance at once.
	switch {
	case rec.Kind == programs.WeeklyCheckIn:
		http.Redirect(w, r, "/c/"+url.PathEscape(r.PathValue("token"))+"/warning-signs?after=weekly", http.StatusSeeOther)
	case rec.Kind == programs.RedFlagCheckIn:
		back := "/c/" + url.PathEscape(r.PathValue("token")) + "?saved=red_flag"
		if len(in.Answers) > 0 && !redFlag {
			back += "&known=1" // every yes was one the therapist knows of
		}
		http.Redirect(w, r, back+"#top", http.StatusSeeOther)
	default:
		http.Redirect(w, r, patientBack(r, string(rec.Kind)), http.StatusSeeOther)
	}
}

// checkInFromForm reads a check-in posted by the check-in page.
func checkInFromForm(w http.ResponseWriter, r *http.Request) (checkInBody, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	var in checkInBody
	if err := r.ParseForm(); err != nil {
		return in, errors.New("the form could not be read")
	}
	f := r.PostForm
	in.Date, in.Kind, in.Activity = f.Get("date"), programs.CheckInKind(f.Get("kind")), f.Get("activity")
	in.Status, in.Answers = programs.Status(f.Get("status")), f["answers"]
	// A known item ticked as worse is a yes that is worse (programs.CheckIn).
	for _, a := range f["worse"] {
		in.Worse = append(in.Worse, a)
		if !slices.Contains(in.Answers, a) {
			in.Answers = append(in.Answers, a)
		}
	}
	switch f.Get("yes") {
	case "":
	case "true", "false":
		yes := f.Get("yes") == "true"
		in.Yes = &yes
	default:
		return in, fmt.Errorf("yes must be true or false, not %q", f.Get("yes"))
	}
	num := func(name string) (*int, error) {
		v := f.Get(name)
		if v == "" {
			return nil, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%s must be a whole number, not %q", name, v)
		}
		return &n, nil
	}
	var err error
	for _, x := range []struct {
		name string
		dst  **int
	}{{"dose", &in.Dose}, {"pain", &in.Pain}, {"function", &in.Function}, {"symptoms", &in.Symptoms}, {"confidence", &in.Confidence}} {
		if *x.dst, err = num(x.name); err != nil {
			return in, err
		}
	}
	if v := f.Get("time"); v != "" {
		c, err := programs.ParseClock(v)
		if err != nil {
			return in, err
		}
		in.Time = &c
	}
	if v := f.Get("assignment"); v != "" {
		if in.Assignment, err = strconv.ParseInt(v, 10, 64); err != nil {
			return in, fmt.Errorf("assignment must be a number, not %q", v)
		}
	}
	return in, nil
}
