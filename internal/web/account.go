package web

// A therapist's own account: change the password (which ends every other
// session), and sign out everywhere (after a lost phone or a shared
// computer).

import (
	"errors"
	"net/http"

	"pacer/internal/store"
)

type accountView struct {
	tr
	Therapist store.Therapist
	Notice    string
	Errors    []string
	Min, Max  int
}

func (a *auth) accountView(r *http.Request, t store.Therapist) accountView {
	v := accountView{tr: therapistTr(), Therapist: t, Min: minPassword, Max: maxPassword}
	if key := r.URL.Query().Get("done"); key != "" && v.c.Has("th.account.done."+key) {
		v.Notice = v.T("th.account.done." + key)
	}
	return v
}

func (a *auth) accountPage(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	a.render(w, r, http.StatusOK, "therapist_account.html", a.accountView(r, t))
}

// changePassword checks the current password, sets the new one and ends
// every session but this one.
func (a *auth) changePassword(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	if !parseForm(w, r) {
		return
	}
	f := r.PostForm
	v := a.accountView(r, t)
	current, password, confirm := f.Get("current"), f.Get("password"), f.Get("confirm")
	addr := clientAddr(r)
	key := addr + "\x00" + "#account" + t.Email
	if a.delays.wait(key) > 0 {
		plain(w, http.StatusTooManyRequests, "Too many wrong passwords. Wait a little, then try again.")
		return
	}
	hash, err := a.Store.TherapistPasswordHash(r.Context(), t.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.pageError(w, r, err)
		return
	}
	ok := false
	if err == nil && current != "" {
		if ok, err = a.checkPassword(r.Context(), hash, current); err != nil {
			a.pageError(w, r, err)
			return
		}
	}
	if !ok {
		a.delays.fail(key)
		v.Errors = append(v.Errors, v.T("th.account.wrong_current"))
	}
	v.Errors = append(v.Errors, passwordProblems(password, confirm)...)
	if len(v.Errors) > 0 {
		a.render(w, r, http.StatusUnprocessableEntity, "therapist_account.html", v)
		return
	}
	a.delays.succeed(key)
	newHash, err := a.hashPassword(r.Context(), password)
	if err == nil {
		err = a.Store.SetPassword(r.Context(), t.ID, newHash, a.sessionHash(r))
	}
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	a.Log.Info("password changed; other sessions ended", "therapist_id", t.ID)
	http.Redirect(w, r, "/account?done=password", http.StatusSeeOther)
}

// signOutEverywhere ends every session of the therapist, this one too.
func (a *auth) signOutEverywhere(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	if err := a.Store.EndWebSessions(r.Context(), t.ID, nil); err != nil {
		a.pageError(w, r, err)
		return
	}
	a.Log.Info("signed out everywhere", "therapist_id", t.ID)
	a.clearCookie(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
