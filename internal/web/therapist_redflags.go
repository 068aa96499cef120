package web

// The therapist's side of the red-flag screen on the patient page:
// acknowledge a screen, mark an item known and reviewed for the patient, and
// un-mark it. Each goes through the clinic, which re-plans after a marking.

import (
	"errors"
	"net/http"
	"strconv"

	"pacer/internal/clinic"
	"pacer/internal/store"
)

// acknowledgeForm records that the therapist saw a red-flag screen.
func (a *auth) acknowledgeForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("checkin"), 10, 64)
	if err != nil || id <= 0 {
		a.notFoundPage(w, r)
		return
	}
	if _, err := a.Clinic.AcknowledgeRedFlag(r.Context(), t.ID, p.ID, id); err != nil {
		a.notFoundOrPage(w, r, err)
		return
	}
	backTo(w, r, p.ID, "acknowledged", "red-flags")
}

// markKnownForm marks the form's item known and reviewed for the patient.
func (a *auth) markKnownForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	a.knownDone(w, r, t, p, "marked", a.Clinic.MarkRedFlagKnown(r.Context(), t.ID, p.ID, r.PostForm.Get("item")))
}

// unmarkKnownForm un-marks the path's item.
func (a *auth) unmarkKnownForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok {
		return
	}
	a.knownDone(w, r, t, p, "unmarked", a.Clinic.UnmarkRedFlagKnown(r.Context(), t.ID, p.ID, r.PathValue("item")))
}

func (a *auth) knownDone(w http.ResponseWriter, r *http.Request, t store.Therapist, p store.Patient, notice string, err error) {
	var bi *clinic.Problem
	switch {
	case errors.As(err, &bi):
		a.renderPatientProblem(w, r, t, p, "red-flags", nil, bi.Msg)
		return
	case err != nil:
		a.notFoundOrPage(w, r, err)
		return
	}
	backTo(w, r, p.ID, notice, "red-flags")
}
