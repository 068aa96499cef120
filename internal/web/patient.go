package web

import (
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
			writeError(w, http.StatusTooManyRequests, "too many unknown links; wait a minute")
			return p, false
		}
		writeError(w, http.StatusNotFound, "this check-in link is not valid; ask your therapist for a new one")
		return p, false
	}
	if !s.perToken.allow(string(hash)) {
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
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	} else if !decodeJSON(w, r, maxJSONBody, &in) {
		return
	}
	c := clinic.CheckIn{CheckIn: in.CheckIn, Assignment: in.Assignment}
	if in.Date != "" {
		d, err := parseDate(in.Date)
		if err != nil {
			writeError(w, http.StatusBadRequest, "date: "+err.Error())
			return
		}
		c.Date = d
	}
	rec, err := s.Clinic.CheckIn(r.Context(), p, c)
	if err != nil {
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
	}{Recorded: true, Date: rec.Date, Kind: string(rec.Kind), Paused: rec.Paused, InFlare: rec.InFlare}
	if redFlag {
		set, err := s.Store.NotifySettings(r.Context(), p.ID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out.Guidance = i18n.For(i18n.Parse(set.Language)).Text("redflag.guidance", nil)
	}
	if form {
		// Back to the page, which thanks the patient for what was saved
		// and, after a red flag, shows the urgent-care guidance at once.
		back := "/c/" + url.PathEscape(r.PathValue("token")) + "?saved=" + url.QueryEscape(string(rec.Kind))
		if redFlag {
			back += "&guidance=red_flag"
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusCreated, out)
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
