package clinic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"pacer/internal/store"
	"pacer/programs"
)

// NewPatient is what a therapist gives to add a patient.
type NewPatient struct {
	Name     string
	Email    string // optional; the email channel is set up with it
	Timezone string // IANA name
	Discreet bool   // calendar and notification text without program names
}

// AddPatient checks a new patient's details and stores the patient for the
// therapist with fresh links, and the email channel when an email is given.
func (c *Clinic) AddPatient(ctx context.Context, therapistID int64, in NewPatient) (store.Patient, error) {
	name, email := strings.TrimSpace(in.Name), strings.TrimSpace(in.Email)
	switch {
	case name == "":
		return store.Patient{}, Problemf("name is required (any name or initials the therapist recognizes)")
	case utf8.RuneCountInString(name) > 200:
		return store.Patient{}, Problemf("name is longer than 200 characters")
	case in.Timezone == "":
		return store.Patient{}, Problemf("timezone is required: an IANA name such as Europe/Berlin")
	}
	if err := programs.CheckText(name, false); err != nil {
		return store.Patient{}, Problemf("name %v", err)
	}
	if err := c.CheckZone(in.Timezone); err != nil {
		return store.Patient{}, err
	}
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return store.Patient{}, Problemf("email %q is not an email address", email)
		}
	}
	var err1, err2 error
	p := store.Patient{TherapistID: therapistID, Name: name, Email: email, Timezone: in.Timezone,
		Discreet: in.Discreet, Alarm: true}
	p.FeedNonce, err1 = NewNonce()
	p.CheckinNonce, err2 = NewNonce()
	if err := errors.Join(err1, err2); err != nil {
		return p, fmt.Errorf("add patient: %w", err)
	}
	p, err := c.Store.CreatePatient(ctx, p, store.HashToken(c.Keys.FeedToken(p.FeedNonce)),
		store.HashToken(c.Keys.CheckinToken(p.CheckinNonce)))
	if err != nil || email == "" {
		return p, err
	}
	cfg, _ := json.Marshal(map[string]string{"type": "email", "address": email})
	err = c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		_, err := tx.SetChannels([]store.Channel{{Type: "email", Config: cfg}})
		return err
	})
	return p, err
}

// RotateFeedLink gives the therapist's patient a new calendar link; the old
// one answers 404 at once. It returns the patient's links.
func (c *Clinic) RotateFeedLink(ctx context.Context, therapistID, patientID int64) (Links, error) {
	return c.rotate(ctx, therapistID, patientID, c.Store.RotateFeedToken, c.Keys.FeedToken)
}

// RotateCheckinLink gives the therapist's patient a new check-in link, and
// a new calendar link with it (the check-in page showed the calendar link,
// so whoever had the old one may have it too); the old links, and the
// session links the old calendar carried, answer 404 at once. It returns
// the patient's links.
func (c *Clinic) RotateCheckinLink(ctx context.Context, therapistID, patientID int64) (Links, error) {
	feedNonce, err1 := NewNonce()
	checkinNonce, err2 := NewNonce()
	if err := errors.Join(err1, err2); err != nil {
		return Links{}, err
	}
	if err := c.Store.RotateLinks(ctx, therapistID, patientID,
		feedNonce, store.HashToken(c.Keys.FeedToken(feedNonce)),
		checkinNonce, store.HashToken(c.Keys.CheckinToken(checkinNonce))); err != nil {
		return Links{}, err
	}
	c.changed(patientID)
	p, err := c.Store.Patient(ctx, therapistID, patientID)
	if err != nil {
		return Links{}, err
	}
	c.Log.Info("check-in link rotated", "patient_id", patientID)
	return c.Links(p), nil
}

// CheckZone says what to fix about a patient's time zone: it must be an
// IANA location, not one of the tz database's special entries (Factory has
// no offset anyone lives by; posixrules and Local stand for whatever the
// server's files say).
func (c *Clinic) CheckZone(name string) error {
	bad := Problemf("timezone %q is not a known IANA time zone of a place, e.g. Europe/Berlin or UTC", name)
	switch {
	case name == "Local", name == "Factory", name == "posixrules", name == "localtime",
		strings.HasPrefix(name, "posix/"), strings.HasPrefix(name, "right/"), strings.HasPrefix(name, "SystemV/"),
		programs.CheckText(name, false) != nil:
		return bad
	}
	if _, err := c.Zone(name); err != nil {
		return bad
	}
	return nil
}

func (c *Clinic) rotate(ctx context.Context, therapistID, patientID int64,
	save func(ctx context.Context, therapistID, patientID int64, nonce, hash []byte) error,
	token func(nonce []byte) string) (Links, error) {
	nonce, err := NewNonce()
	if err != nil {
		return Links{}, err
	}
	if err := save(ctx, therapistID, patientID, nonce, store.HashToken(token(nonce))); err != nil {
		return Links{}, err
	}
	c.changed(patientID)
	p, err := c.Store.Patient(ctx, therapistID, patientID)
	if err != nil {
		return Links{}, err
	}
	return c.Links(p), nil
}

// Erase deletes the therapist's patient and everything of theirs in one
// transaction; ErrNotFound when the patient is not theirs.
func (c *Clinic) Erase(ctx context.Context, therapistID, patientID int64) error {
	if err := c.Store.ErasePatient(ctx, therapistID, patientID); errors.Is(err, store.ErrNotCheckpointed) {
		c.Log.Warn("patient erased; the database log is not truncated yet", "patient_id", patientID, "err", err)
	} else if err != nil {
		return err
	}
	c.changed(patientID)
	c.Log.Info("patient erased", "patient_id", patientID, "therapist_id", therapistID)
	return nil
}
