package daemon_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
)

// pageForm is one <form method="post"> of a page, as a browser would send it
// with its fields as they stand, once per submit button.
type pageForm struct {
	action string
	fields url.Values
	empty  []string // required fields with no value, and their input types
	types  map[string]string
	submit []url.Values // each submit button's name and value, if it has one
}

// postForms finds the POST forms of an HTML page.
func postForms(t *testing.T, body string) []pageForm {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	var forms []pageForm
	var cur *pageForm
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				if m, _ := attr(n, "method"); strings.EqualFold(m, "post") {
					action, _ := attr(n, "action")
					forms = append(forms, pageForm{action: action, fields: url.Values{}, types: map[string]string{}})
					cur = &forms[len(forms)-1]
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						walk(c)
					}
					cur = nil
					return
				}
			case "input", "textarea", "select", "button":
				if cur == nil {
					break
				}
				name, named := attr(n, "name")
				typ, _ := attr(n, "type")
				value, _ := attr(n, "value")
				_, required := attr(n, "required")
				_, checked := attr(n, "checked")
				switch {
				case n.Data == "button" || typ == "submit":
					if named {
						cur.submit = append(cur.submit, url.Values{name: {value}})
					}
				case !named:
				case n.Data == "select":
					for o := n.FirstChild; o != nil; o = o.NextSibling {
						if o.Type == html.ElementNode && o.Data == "option" {
							// The selected option, else the first a person
							// could choose (not an empty "choose…" one).
							v, _ := attr(o, "value")
							if _, sel := attr(o, "selected"); sel || (!cur.fields.Has(name) && v != "") {
								cur.fields.Set(name, v)
							}
						}
					}
				case typ == "checkbox" || typ == "radio":
					if checked {
						cur.fields.Add(name, value)
					} else if required && typ == "radio" && !cur.fields.Has(name) {
						cur.fields.Set(name, value)
					}
				case n.Data == "textarea":
					if n.FirstChild != nil {
						cur.fields.Set(name, n.FirstChild.Data)
					}
				default:
					if value == "" && required {
						cur.empty = append(cur.empty, name)
						cur.types[name] = typ
					} else if value != "" {
						cur.fields.Set(name, value)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return forms
}

// fill gives a required empty field a value a person would type.
func fill(name, typ string) string {
	switch {
	case typ == "email" || strings.Contains(name, "email"):
		return "someone@example.org"
	case typ == "number":
		return "10"
	case typ == "date":
		return ""
	case name == "timezone":
		return "Europe/Berlin"
	case typ == "password" || name == "confirm":
		return "a long test passphrase"
	}
	return "Test"
}

// sendForms posts every POST form of a page the way a browser would, once
// per submit button, and fails on an answer a person could not act on: a
// server error, or a 400, 403 or 404 for a form the server itself served.
func sendForms(t *testing.T, b *testserver.Browser, page string, skip ...string) map[string]int {
	t.Helper()
	p := b.Get(page)
	if p.Code != http.StatusOK {
		t.Fatalf("%s: %d", page, p.Code)
	}
	posted := map[string]int{}
	for _, f := range postForms(t, p.Body) {
		if slices.ContainsFunc(skip, func(s string) bool { return strings.HasSuffix(f.action, s) }) {
			continue
		}
		for _, name := range f.empty {
			if v := fill(name, f.types[name]); v != "" {
				f.fields.Set(name, v)
			}
		}
		buttons := f.submit
		if len(buttons) == 0 {
			buttons = []url.Values{{}}
		}
		for _, button := range buttons {
			form := url.Values{}
			for k, v := range f.fields {
				form[k] = v
			}
			for k, v := range button {
				form[k] = v
			}
			res := b.Post(f.action, form)
			posted[f.action]++
			switch res.Code {
			case http.StatusSeeOther, http.StatusFound, http.StatusOK, http.StatusCreated, http.StatusUnprocessableEntity:
				if res.Code == http.StatusUnprocessableEntity && !strings.Contains(res.Body, "<form") {
					t.Errorf("%s → %s %v: 422 without the form to correct:\n%s", page, f.action, form, res.Body)
				}
			default:
				t.Errorf("%s → %s %v: %d\n%s", page, f.action, form, res.Code, res.Body)
			}
		}
	}
	return posted
}

// Every form a therapist and a patient are shown works against the running
// server: posted as the page fills it, none fails.
func TestEveryForm(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn, testserver.Options{Start: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
		l := s.AddPatient("R", "r@example.org", "Europe/Berlin", "walking", flareStart)
		therapist := s.SignIn(s.A)

		// The patient's page: every session, flare, settled, weekly, red-flag
		// and settings form.
		patient := s.NewBrowser()
		got := sendForms(t, patient, strings.TrimPrefix(l.CheckinURL, s.URL))
		if got[strings.TrimPrefix(l.CheckinURL, s.URL)+"/checkins"] < 3 {
			t.Errorf("the check-in page's forms posted: %v; want its check-in forms", got)
		}

		// The therapist's pages: home (add a patient), the patient page
		// (with an assign form open), the admin page; erasure and sign-out
		// last.
		sendForms(t, therapist, "/", "/logout")
		page := "/patients/" + itoa(l.ID)
		got = sendForms(t, therapist, page+"?program=stretching", "/logout", "/erase")
		for _, want := range []string{"/assignments", "/channels", "/feed-token", "/override", "/pause"} {
			if !slices.ContainsFunc(mapKeys(got), func(k string) bool { return strings.HasSuffix(k, want) }) {
				t.Errorf("the patient page has no %s form (posted %v)", want, got)
			}
		}
		sendForms(t, therapist, "/admin/therapists", "/logout")
		p := therapist.Post(page+"/erase", url.Values{"confirm": {"yes"}})
		if p.Code != http.StatusSeeOther {
			t.Errorf("erasure: %d", p.Code)
		}
		if p := therapist.Post("/logout", url.Values{}); p.Code != http.StatusSeeOther {
			t.Errorf("sign out: %d", p.Code)
		}
	})
}

func mapKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
