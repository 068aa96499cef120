// Command latency measures, against a running pacer, what a patient and a
// therapist wait for: a check-in's latency (p50, p99) with several patients
// checking in at once, and the therapist's home page with N patients. It
// talks HTTP only, so the same run measures any version of pacer.
//
//	pacer serve --db /tmp/l.db --listen 127.0.0.1:8099 &
//	link=$(pacer user add --db /tmp/l.db --email t@example.org --base-url http://127.0.0.1:8099)
//	token=$(pacer token create --db /tmp/l.db --email t@example.org)
//	go run ./scripts/latency -url http://127.0.0.1:8099 -token "$token" -setup "$link"
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8099", "the running pacer")
	token := flag.String("token", "", "a therapist's API token (pacer token create)")
	setup := flag.String("setup", "", "the therapist's one-time setup link (pacer user add), to sign in for the home page")
	patients := flag.Int("patients", 200, "patients to add, each with the walking program")
	checkins := flag.Int("checkins", 1000, "check-ins to post")
	workers := flag.Int("workers", 8, "patients checking in at once")
	homes := flag.Int("homes", 50, "loads of the therapist's home page")
	flag.Parse()
	if *token == "" {
		log.Fatal("-token is required")
	}
	c := &client{base: strings.TrimSuffix(*base, "/"), token: *token, http: &http.Client{Timeout: time.Minute}}

	start := time.Now().UTC().AddDate(0, 0, -21).Format(time.DateOnly)
	var links []string
	for i := range *patients {
		var l struct {
			ID         int64  `json:"id"`
			CheckinURL string `json:"checkin_url"`
		}
		c.must("POST", "/api/v1/patients", fmt.Sprintf(`{"name":"Patient %04d","timezone":"UTC"}`, i), &l)
		c.must("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", l.ID), fmt.Sprintf(`{"program":"walking","start":%q}`, start), nil)
		links = append(links, l.CheckinURL)
		if i >= 15 {
			time.Sleep(200 * time.Millisecond) // the API's per-token rate limit: 10 requests a second
		}
	}
	fmt.Printf("added %d patients with the walking program from %s\n", *patients, start)

	// Check-ins: each worker posts for its own patients in turn, a daily
	// pain or a session of the past three weeks, so each one re-plans.
	lat := make([]time.Duration, *checkins)
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range *workers {
		wg.Go(func() {
			for i := range jobs {
				link := links[i%len(links)]
				day := time.Now().UTC().AddDate(0, 0, -(i/len(links))%20).Format(time.DateOnly)
				body := fmt.Sprintf(`{"kind":"daily","pain":%d,"date":%q}`, i%10, day)
				if i%2 == 0 {
					body = fmt.Sprintf(`{"kind":"session","activity":"walk","status":"done","date":%q}`, day)
				}
				t0 := time.Now()
				code, out := c.do("POST", link+"/checkins", body)
				lat[i] = time.Since(t0)
				if code != http.StatusCreated && code != http.StatusBadRequest { // a session on a day without one is a 400
					log.Printf("check-in: %d %s", code, out)
				}
			}
		})
	}
	t0 := time.Now()
	for i := range *checkins {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	took := time.Since(t0)
	fmt.Printf("check-ins: %d in %s (%.0f/s) by %d patients at once: p50 %s, p99 %s\n", *checkins, took.Round(time.Millisecond),
		float64(*checkins)/took.Seconds(), *workers, pct(lat, 50), pct(lat, 99))

	if *setup == "" {
		return
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: time.Minute}
	const password = "a long load-test passphrase"
	resp, err := browser.PostForm(*setup, url.Values{"password": {password}, "confirm": {password}})
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	home := make([]time.Duration, *homes)
	for i := range home {
		t0 := time.Now()
		resp, err := browser.Get(c.base + "/")
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		home[i] = time.Since(t0)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "Patient 0000") {
			log.Fatalf("home page: %d (signed in? %d bytes)", resp.StatusCode, len(b))
		}
	}
	fmt.Printf("therapist home with %d patients: p50 %s, p99 %s over %d loads\n", *patients, pct(home, 50), pct(home, 99), *homes)
}

type client struct {
	base, token string
	http        *http.Client
}

func (c *client) do(method, path, body string) (int, []byte) {
	u := path
	if !strings.HasPrefix(path, "http") {
		u = c.base + path
	}
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if !strings.Contains(u, "/c/") {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *client) must(method, path, body string, out any) {
	code, b := c.do(method, path, body)
	if code/100 != 2 {
		fmt.Fprintf(os.Stderr, "%s %s: %d %s\n", method, path, code, b)
		os.Exit(1)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			log.Fatal(err)
		}
	}
}

func pct(xs []time.Duration, p int) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(100 * time.Microsecond)
}
