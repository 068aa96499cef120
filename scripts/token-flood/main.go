// Command token-flood measures what a flood of made-up API tokens costs the
// therapists using pacer: it builds pacer, starts `pacer serve` on a fresh
// SQLite store, measures a valid API request's latency while idle, then
// sends a flood of random bearer tokens (100,000 by default) from many
// connections and measures the valid request's latency during it. It
// reports both, the flood's rate and answers, and pacer's memory before
// and after. Run from the repository's root:
//
//	go run ./scripts/token-flood [-flood 100000] [-workers 32] [-probes 1500] [-rate 0]
//
// Figures taken while other work runs on the machine are indicative only.
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	flood := flag.Int("flood", 100_000, "random bearer tokens to send")
	workers := flag.Int("workers", 32, "connections sending the flood")
	probes := flag.Int("probes", 1500, "valid requests timed, idle and during the flood")
	tokens := flag.Int("tokens", 40, "valid API tokens the probes take turns with (each may make 10 requests a second)")
	rate := flag.Int("rate", 0, "flood requests a second, e.g. 4500 as in the security review (0: as fast as the connections go)")
	flag.Parse()
	log.SetFlags(0)

	tmp, err := os.MkdirTemp("", "pacer-token-flood-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "pacer")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/pacer").CombinedOutput(); err != nil {
		log.Fatalf("build pacer (run from the repository's root): %v\n%s", err, out)
	}
	db := filepath.Join(tmp, "pacer.db")
	env := append(os.Environ(), "STATE_DIRECTORY="+tmp, "PACER_LOG_LEVEL=error")
	pacer := func(args ...string) string {
		cmd := exec.Command(bin, append(args, "--db", db)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			log.Fatalf("pacer %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	pacer("migrate") // user add and token create use a database serve or migrate made
	pacer("user", "add", "--email", "flood@example.org")
	var valid []string
	for range *tokens {
		valid = append(valid, pacer("token", "create", "--email", "flood@example.org"))
	}

	serve := exec.Command(bin, "serve", "--db", db, "--listen", "127.0.0.1:0")
	serve.Env = env
	stdout, _ := serve.StdoutPipe()
	serve.Stderr = io.Discard
	if err := serve.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { serve.Process.Signal(os.Interrupt); serve.Wait() }()
	base := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "pacer listening on "); ok {
			base, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if base == "" {
		log.Fatal("pacer did not say where it listens")
	}
	go io.Copy(io.Discard, stdout)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	get := func(token string) int {
		req, _ := http.NewRequest("GET", base+"/api/v1/patients", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// probe times valid requests, paced to stay within the tokens' rate
	// limits (each token 10 a second): what a therapist's client waits.
	probe := func(n int, stop *atomic.Bool) []time.Duration {
		pace := time.Second / time.Duration(8*len(valid))
		var lat []time.Duration
		for i := 0; i < n && (stop == nil || !stop.Load()); i++ {
			t0 := time.Now()
			if code := get(valid[i%len(valid)]); code != http.StatusOK {
				log.Fatalf("a valid request answered %d", code)
			}
			lat = append(lat, time.Since(t0))
			time.Sleep(pace - min(pace, time.Since(t0)))
		}
		return lat
	}
	rss := func() string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", serve.Process.Pid))
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				return strings.TrimSpace(v)
			}
		}
		return "?"
	}

	probe(100, nil) // warm up
	idle := probe(*probes, nil)
	rssBefore := rss()

	var sent, unauthorized, limited, other atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	jobs := make(chan struct{}, *workers)
	t0 := time.Now()
	for range *workers {
		wg.Go(func() {
			b := make([]byte, 32)
			for range jobs {
				rand.Read(b)
				switch get(base64.RawURLEncoding.EncodeToString(b)) {
				case http.StatusUnauthorized:
					unauthorized.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
				sent.Add(1)
			}
		})
	}
	var during []time.Duration
	var pw sync.WaitGroup
	pw.Go(func() {
		time.Sleep(200 * time.Millisecond) // the flood under way
		during = probe(*probes, &done)
	})
	// At a given rate, the requests are released in batches every 10 ms
	// (a ticker per request cannot keep up with thousands a second).
	var tick <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for i := range *flood {
		if tick != nil && i%max(1, *rate/100) == 0 {
			<-tick
		}
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	took := time.Since(t0)
	done.Store(true)
	pw.Wait()

	fmt.Printf("flood: %d random tokens in %s (%.0f/s) on %d connections: %d answered 401, %d 429, %d other\n",
		sent.Load(), took.Round(time.Millisecond), float64(sent.Load())/took.Seconds(), *workers,
		unauthorized.Load(), limited.Load(), other.Load())
	fmt.Printf("valid request, idle:         p50 %s  p99 %s  (%d requests)\n", pct(idle, 50), pct(idle, 99), len(idle))
	fmt.Printf("valid request, during flood: p50 %s  p99 %s  (%d requests)\n", pct(during, 50), pct(during, 99), len(during))
	fmt.Printf("p50 during the flood / idle: %.2f×\n", float64(pct(during, 50))/float64(pct(idle, 50)))
	fmt.Printf("pacer's memory: %s before the flood, %s after\n", rssBefore, rss())
}

func pct(xs []time.Duration, p int) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(10 * time.Microsecond)
}
