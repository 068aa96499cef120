package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pacer/internal/testkit"
	"pacer/programs"
)

// forEachDSN runs f once per backend with the DSN of a fresh, unmigrated
// database: a SQLite file, and PostgreSQL in a schema of its own (skipped,
// visibly, unless PACER_TEST_POSTGRES_URL is set).
func forEachDSN(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Helper()
	testkit.Stores(t, f)
}

// forEachStore runs f once per backend on a fresh, migrated store.
func forEachStore(t *testing.T, f func(t *testing.T, s *Store)) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		f(t, s)
	})
}

func openStore(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// setClock gives s a clock at an instant with sub-millisecond digits and a
// zone other than UTC, which the store must drop.
func setClock(s *Store) *testkit.Clock {
	c := testkit.NewClock(time.Date(2026, 3, 2, 9, 30, 15, 123456789, time.FixedZone("CET", 3600)))
	s.now = c.Now
	return c
}

// Fixture builders.

func mkTherapist(t *testing.T, s *Store, email string) Therapist {
	t.Helper()
	th, err := s.CreateTherapist(t.Context(), email, "Dr "+email, false)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func mkPatient(t *testing.T, s *Store, therapistID int64, name string) Patient {
	t.Helper()
	p, err := s.CreatePatient(t.Context(), Patient{
		TherapistID: therapistID, Name: name, Email: name + "@example.org", Timezone: "Europe/Berlin",
		Discreet: true, FeedNonce: random(t, 16), CheckinNonce: random(t, 16),
	}, random(t, 32), random(t, 32))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func template(t *testing.T, id string) *programs.Program {
	t.Helper()
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := lib.Get(id)
	if !ok {
		t.Fatalf("no %s template", id)
	}
	return p
}

func mkAssignment(t *testing.T, s *Store, patientID int64) Assignment {
	t.Helper()
	a, err := s.CreateAssignment(t.Context(), Assignment{
		PatientID: patientID, ProgramID: "walking", Program: template(t, "walking"),
		Start: programs.MakeDate(2026, 3, 2), Params: Params{Baseline: map[string]int{"walk": 10}, Threshold: map[string]int{"walk": 20}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func intp(v int) *int { return &v }

func clockp(c programs.Clock) *programs.Clock { return &c }

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("%s: got %v, want ErrNotFound", what, err)
	}
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	lite, err := migrations(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := migrations(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].name != pg[i].name {
			t.Errorf("migration %d is %s on SQLite, %s on PostgreSQL", i+1, lite[i].name, pg[i].name)
		}
		if strings.Contains(lite[i].sql, "?") || strings.Contains(pg[i].sql, "?") {
			t.Errorf("migration %s holds a '?'", lite[i].name)
		}
	}
}

func TestMigrate(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		s := openStore(t, dsn)
		latest := len(must(migrations(s.Dialect())))
		if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
			t.Fatalf("fresh database: version %d, %v; want 0", v, err)
		}
		for range 2 { // idempotent
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
				t.Fatalf("version %d, %v; want %d", v, err, latest)
			}
			var rows int
			if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != latest {
				t.Fatalf("%d rows in schema_migrations, want %d", rows, latest)
			}
		}

		// A newer pacer migrated this database: refuse, naming both versions.
		if _, err := s.w.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`), latest+5); err != nil {
			t.Fatal(err)
		}
		err := s.Migrate(ctx)
		want := fmt.Sprintf("the database schema is version %d, newer than this pacer (%d); upgrade pacer", latest+5, latest)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Migrate on a newer schema: %v; want %q", err, want)
		}
		if v, _ := s.SchemaVersion(ctx); v != latest+5 {
			t.Errorf("version %d after the refusal, want %d", v, latest+5)
		}
	})
}

// Two replicas (or a CLI and the daemon) starting together on one database
// apply each migration once and both succeed.
func TestMigrateConcurrently(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		stores := []*Store{openStore(t, dsn), openStore(t, dsn), openStore(t, dsn)}
		errs := make([]error, len(stores))
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		var rows int
		if err := stores[0].r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if latest := len(must(migrations(stores[0].Dialect()))); rows != latest {
			t.Errorf("%d rows in schema_migrations, want %d", rows, latest)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestOpenSQLite(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "state dir", "a#b?c")
	path := filepath.Join(dir, "pacer 100%.db")
	s := openStore(t, "sqlite:"+path)
	if s.Dialect() != SQLite {
		t.Errorf("dialect %q", s.Dialect())
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the path given: %v", err)
	}

	var mode string
	var fk, timeout int
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v; want wal", mode, err)
	}
	for name, db := range map[string]*sql.DB{"write": s.w, "read": s.r} {
		if err := db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Errorf("%s pool: foreign_keys %d, %v; want 1", name, fk, err)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&timeout); err != nil || timeout != 5000 {
			t.Errorf("%s pool: busy_timeout %d, %v; want 5000", name, timeout, err)
		}
	}
	// The read pool cannot write by mistake.
	if _, err := s.r.ExecContext(ctx, `INSERT INTO therapists (email, email_key, name, created_at) VALUES ('a', 'a', 'a', 0)`); err == nil {
		t.Error("the read pool wrote")
	}

	for _, dsn := range []string{"", "sqlite:", ":memory:", "file:x.db"} {
		if s, err := Open(ctx, dsn); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

func TestTherapists(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		a, err := s.CreateTherapist(ctx, "Ann.Lee@Example.org", "Ann Lee", true)
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == 0 || !a.Admin || a.Email != "Ann.Lee@Example.org" || !a.CreatedAt.Equal(c.Now().Truncate(time.Millisecond)) {
			t.Errorf("created %+v", a)
		}
		if a.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt in %v, want UTC", a.CreatedAt.Location())
		}
		if _, err := s.CreateTherapist(ctx, "ann.lee@example.ORG", "Other", false); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate email in another case: %v, want ErrConflict", err)
		}
		b, err := s.CreateTherapist(ctx, "bo@example.org", "Bo", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"ann.lee@example.org", "ANN.LEE@EXAMPLE.ORG", "Ann.Lee@Example.org"} {
			got, err := s.TherapistByEmail(ctx, email)
			if err != nil || got != a {
				t.Errorf("TherapistByEmail(%q) = %+v, %v; want %+v", email, got, err, a)
			}
		}
		if got, err := s.Therapist(ctx, b.ID); err != nil || got != b {
			t.Errorf("Therapist(%d) = %+v, %v; want %+v", b.ID, got, err, b)
		}
		_, err = s.TherapistByEmail(ctx, "nobody@example.org")
		wantNotFound(t, "unknown email", err)
		_, err = s.Therapist(ctx, b.ID+100)
		wantNotFound(t, "unknown therapist", err)
	})
}

func TestPatients(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		setClock(s)
		th := mkTherapist(t, s, "t@example.org")
		in := Patient{TherapistID: th.ID, Name: "Zoë Adams", Email: "zoe@example.org", Timezone: "America/Santiago",
			Discreet: false, Alarm: true, ID: 999, FeedVersion: 7, FeedNonce: random(t, 16), CheckinNonce: random(t, 16)}
		p, err := s.CreatePatient(ctx, in, HashToken("feed"), HashToken("checkin"))
		if err != nil {
			t.Fatal(err)
		}
		if p.ID == 0 || p.ID == 999 || p.FeedVersion != 0 || p.CreatedAt.IsZero() {
			t.Errorf("created %+v", p)
		}
		if p.Name != in.Name || p.Email != in.Email || p.Timezone != in.Timezone || p.Discreet || !p.Alarm ||
			!bytes.Equal(p.FeedNonce, in.FeedNonce) || !bytes.Equal(p.CheckinNonce, in.CheckinNonce) {
			t.Errorf("created %+v from %+v", p, in)
		}
		if got, err := s.Patient(ctx, th.ID, p.ID); err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("Patient = %+v, %v; want %+v", got, err, p)
		}
		// Nonces are optional to the store: none in, none out.
		bare, err := s.CreatePatient(ctx, Patient{TherapistID: th.ID, Name: "Bare", Timezone: "UTC"}, HashToken("f0"), HashToken("c0"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Patient(ctx, th.ID, bare.ID); err != nil || got.FeedNonce != nil || got.CheckinNonce != nil {
			t.Errorf("a patient without nonces: %+v, %v", got, err)
		}
		// Same name: by id. Byte order: upper case before lower case.
		b2 := mkPatient(t, s, th.ID, "bea")
		b1 := mkPatient(t, s, th.ID, "Bea")
		b3 := mkPatient(t, s, th.ID, "bea")
		ps, err := s.Patients(ctx, th.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, x := range ps {
			ids = append(ids, x.ID)
		}
		if want := []int64{bare.ID, b1.ID, p.ID, b2.ID, b3.ID}; !slices.Equal(ids, want) {
			t.Errorf("Patients order %v, want %v", ids, want)
		}
		if ps, err := s.Patients(ctx, th.ID+100); err != nil || len(ps) != 0 {
			t.Errorf("Patients of a therapist with none: %v, %v", ps, err)
		}
		if _, err := s.CreatePatient(ctx, in, HashToken("feed"), HashToken("other")); !errors.Is(err, ErrConflict) {
			t.Errorf("a feed hash taken: %v, want ErrConflict", err)
		}
		if _, err := s.CreatePatient(ctx, Patient{TherapistID: th.ID + 100, Name: "x", Timezone: "UTC"},
			HashToken("f2"), HashToken("c2")); err == nil {
			t.Error("a patient of no therapist was created")
		}
	})
}

// Another therapist's patient or assignment is ErrNotFound from every scoped
// method, and RotateFeedToken leaves it alone.
func TestScoping(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		mine := mkTherapist(t, s, "mine@example.org")
		theirs := mkTherapist(t, s, "theirs@example.org")
		p, err := s.CreatePatient(ctx, Patient{TherapistID: theirs.ID, Name: "Theirs", Timezone: "UTC",
			FeedNonce: []byte("their nonce")}, HashToken("their feed"), HashToken("their checkin"))
		if err != nil {
			t.Fatal(err)
		}
		a := mkAssignment(t, s, p.ID)
		own := mkPatient(t, s, mine.ID, "Mine")

		_, err = s.Patient(ctx, mine.ID, p.ID)
		wantNotFound(t, "Patient", err)
		_, err = s.Assignment(ctx, mine.ID, a.ID)
		wantNotFound(t, "Assignment", err)
		err = s.RotateFeedToken(ctx, mine.ID, p.ID, []byte("stolen nonce"), HashToken("stolen"))
		wantNotFound(t, "RotateFeedToken", err)
		if ps, err := s.Patients(ctx, mine.ID); err != nil || len(ps) != 1 || ps[0].ID != own.ID {
			t.Errorf("Patients(mine) = %v, %v; want only %d", ps, err, own.ID)
		}
		// Nothing changed for the owner.
		if got, err := s.PatientByFeedToken(ctx, HashToken("their feed")); err != nil || got.ID != p.ID ||
			string(got.FeedNonce) != "their nonce" {
			t.Errorf("the owner's feed token after a foreign rotation: %+v, %v", got, err)
		}
		_, err = s.PatientByFeedToken(ctx, HashToken("stolen"))
		wantNotFound(t, "the foreign rotation's hash", err)
		if _, err := s.Patient(ctx, theirs.ID, p.ID); err != nil {
			t.Errorf("the owner's Patient: %v", err)
		}
		if _, err := s.Assignment(ctx, theirs.ID, a.ID); err != nil {
			t.Errorf("the owner's Assignment: %v", err)
		}
		// Missing rows look the same as foreign ones.
		_, err = s.Patient(ctx, mine.ID, p.ID+100)
		wantNotFound(t, "missing patient", err)
		_, err = s.Assignment(ctx, mine.ID, a.ID+100)
		wantNotFound(t, "missing assignment", err)
		err = s.RotateFeedToken(ctx, mine.ID, p.ID+100, []byte("n"), HashToken("x"))
		wantNotFound(t, "RotateFeedToken of a missing patient", err)
	})
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if b, err := base64.RawURLEncoding.DecodeString(tok); len(tok) != 43 || err != nil || len(b) != 32 {
			t.Fatalf("token %q: %d characters, %v", tok, len(tok), err)
		}
		if seen[tok] {
			t.Fatalf("token %q twice", tok)
		}
		seen[tok] = true
	}
	if h := HashToken("abc"); hex.EncodeToString(h) != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashToken is not SHA-256: %x", h)
	}

	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		feed, checkin := must(NewToken()), must(NewToken())
		p, err := s.CreatePatient(ctx, Patient{TherapistID: th.ID, Name: "P", Timezone: "UTC",
			FeedNonce: []byte("feed nonce"), CheckinNonce: []byte("checkin nonce")}, HashToken(feed), HashToken(checkin))
		if err != nil {
			t.Fatal(err)
		}
		other := mkPatient(t, s, th.ID, "Other")
		if got, err := s.PatientByFeedToken(ctx, HashToken(feed)); err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("PatientByFeedToken = %+v, %v", got, err)
		}
		if got, err := s.PatientByCheckinToken(ctx, HashToken(checkin)); err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("PatientByCheckinToken = %+v, %v", got, err)
		}
		// The two kinds of token do not stand in for each other.
		_, err = s.PatientByFeedToken(ctx, HashToken(checkin))
		wantNotFound(t, "a check-in token as a feed token", err)
		_, err = s.PatientByCheckinToken(ctx, HashToken(feed))
		wantNotFound(t, "a feed token as a check-in token", err)

		newFeed := must(NewToken())
		if err := s.RotateFeedToken(ctx, th.ID, p.ID, []byte("new nonce"), HashToken(newFeed)); err != nil {
			t.Fatal(err)
		}
		_, err = s.PatientByFeedToken(ctx, HashToken(feed))
		wantNotFound(t, "the old feed token", err)
		if got, err := s.PatientByFeedToken(ctx, HashToken(newFeed)); err != nil || got.ID != p.ID ||
			string(got.FeedNonce) != "new nonce" || string(got.CheckinNonce) != "checkin nonce" {
			t.Errorf("the new feed token: %+v, %v", got, err)
		}
		if got, err := s.PatientByCheckinToken(ctx, HashToken(checkin)); err != nil || got.ID != p.ID {
			t.Errorf("the check-in token after a feed rotation: %+v, %v", got, err)
		}
		if err := s.RotateFeedToken(ctx, th.ID, other.ID, []byte("n"), HashToken(newFeed)); !errors.Is(err, ErrConflict) {
			t.Errorf("rotating to a hash in use: %v, want ErrConflict", err)
		}

		// Setup tokens.
		exp := time.Now().Add(24 * time.Hour)
		if err := s.CreateSetupToken(ctx, th.ID, HashToken("setup"), exp); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSetupToken(ctx, th.ID, HashToken("setup"), exp); !errors.Is(err, ErrConflict) {
			t.Errorf("a setup hash twice: %v, want ErrConflict", err)
		}
		var expires int64
		if err := s.r.QueryRowContext(ctx, s.q(`SELECT expires_at FROM setup_tokens WHERE token_hash = ?`),
			HashToken("setup")).Scan(&expires); err != nil || !fromMillis(expires).Equal(exp.Truncate(time.Millisecond)) {
			t.Errorf("expires_at %v, %v; want %v", fromMillis(expires), err, exp)
		}

		// API tokens, and last_used_at written at most once a minute.
		c := setClock(s)
		api := must(NewToken())
		if err := s.CreateAPIToken(ctx, th.ID, "laptop", HashToken(api)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAPIToken(ctx, th.ID, "again", HashToken(api)); !errors.Is(err, ErrConflict) {
			t.Errorf("an API hash twice: %v, want ErrConflict", err)
		}
		lastUsed := func() time.Time {
			t.Helper()
			var n sql.NullInt64
			if err := s.r.QueryRowContext(ctx, s.q(`SELECT last_used_at FROM api_tokens WHERE token_hash = ?`),
				HashToken(api)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return nullMillis(n)
		}
		if !lastUsed().IsZero() {
			t.Error("last_used_at set before any use")
		}
		first := c.Now().Truncate(time.Millisecond)
		for i, step := range []struct {
			advance time.Duration
			want    time.Time
		}{
			{0, first},
			{30 * time.Second, first}, // within the minute: no write
			{30 * time.Second, first.Add(time.Minute)}, // a minute on: written
		} {
			c.Add(step.advance)
			got, err := s.TherapistByAPIToken(ctx, HashToken(api), c.Now())
			if err != nil || got != th {
				t.Fatalf("use %d: %+v, %v; want %+v", i, got, err, th)
			}
			if lu := lastUsed(); !lu.Equal(step.want) {
				t.Errorf("use %d: last_used_at %v, want %v", i, lu, step.want)
			}
		}
		_, err = s.TherapistByAPIToken(ctx, HashToken("unknown"), c.Now())
		wantNotFound(t, "an unknown API token", err)
	})
}

func TestAssignments(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		setClock(s)
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		if a.ID == 0 || a.Status != "active" || a.CreatedAt.IsZero() || a.UpdatedAt != a.CreatedAt {
			t.Errorf("created %+v", a)
		}
		for name, get := range map[string]func() (Assignment, error){
			"Assignment":     func() (Assignment, error) { return s.Assignment(ctx, th.ID, a.ID) },
			"AssignmentByID": func() (Assignment, error) { return s.AssignmentByID(ctx, a.ID) },
		} {
			got, err := get()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			// The snapshot is decoded once per distinct program: both reads
			// share one *Program, equal to the template, translations and all.
			if got.ID != a.ID || got.PatientID != p.ID || got.ProgramID != "walking" ||
				!bytes.Equal(got.Program.YAML(), template(t, "walking").YAML()) || !reflect.DeepEqual(got.Program, template(t, "walking")) ||
				got.Program.Activities[0].NameIn("de") != "Spaziergang" || got.Start != programs.MakeDate(2026, 3, 2) ||
				!reflect.DeepEqual(got.Params, a.Params) || got.Status != "active" ||
				got.CreatedAt != a.CreatedAt || got.UpdatedAt != a.UpdatedAt {
				t.Errorf("%s = %+v, want %+v", name, got, a)
			}
		}
		_, err := s.AssignmentByID(ctx, a.ID+100)
		wantNotFound(t, "AssignmentByID of a missing one", err)

		ended, err := s.CreateAssignment(ctx, Assignment{PatientID: p.ID, ProgramID: "core", Program: template(t, "core"),
			Start: programs.MakeDate(2025, 1, 6), Status: "ended"})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.AssignmentByID(ctx, ended.ID); err != nil || !reflect.DeepEqual(got.Params, Params{}) {
			t.Errorf("default params %+v, %v", got.Params, err)
		}
		b := mkAssignment(t, s, p.ID)
		other := mkAssignment(t, s, mkPatient(t, s, th.ID, "Q").ID)
		as, err := s.Assignments(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, x := range as {
			ids = append(ids, x.ID)
		}
		if want := []int64{a.ID, b.ID}; !slices.Equal(ids, want) {
			t.Errorf("active assignments %v, want %v (not ended %d, not another patient's %d)", ids, want, ended.ID, other.ID)
		}
		if _, err := s.CreateAssignment(ctx, Assignment{PatientID: p.ID, ProgramID: "none"}); err == nil {
			t.Error("an assignment without a program accepted")
		}
		x1, _ := s.AssignmentByID(ctx, a.ID)
		x2, _ := s.AssignmentByID(ctx, b.ID)
		if x1.Program != x2.Program {
			t.Error("two assignments of one program decoded it twice")
		}
	})
}

func TestCheckIns(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		b := mkAssignment(t, s, p.ID)
		q := mkPatient(t, s, th.ID, "Q")
		qa := mkAssignment(t, s, q.ID)
		d := programs.MakeDate(2026, 3, 3)

		add := func(patient, assignment int64, c programs.CheckIn) {
			t.Helper()
			got, err := s.AddCheckIn(ctx, CheckIn{PatientID: patient, AssignmentID: assignment, CheckIn: c})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID == 0 || got.CreatedAt.IsZero() || got.AssignmentID != assignment {
				t.Errorf("added %+v", got)
			}
		}
		sessionA := programs.CheckIn{Date: d, Kind: programs.SessionCheckIn, Activity: "walk", Time: clockp(7*60 + 30),
			Status: programs.Partial, Dose: intp(0), Pain: intp(3)}
		daily := programs.CheckIn{Date: d, Kind: programs.DailyCheckIn, Pain: intp(0)}
		weekly := programs.CheckIn{Date: d.AddDays(4), Kind: programs.WeeklyCheckIn, Function: intp(7),
			Symptoms: intp(10), Confidence: intp(5)}
		redFlag := programs.CheckIn{Date: d.AddDays(5), Kind: programs.RedFlagCheckIn,
			Answers: []string{"night_pain", "leg_weakness"}}
		sessionB := programs.CheckIn{Date: d, Kind: programs.SessionCheckIn, Activity: "walk", Status: programs.Done}
		// Inserted out of date order: they come back in insertion order.
		add(p.ID, 0, weekly)
		add(p.ID, a.ID, sessionA)
		add(p.ID, b.ID, sessionB)
		add(p.ID, 0, daily)
		add(q.ID, 0, daily)
		add(q.ID, qa.ID, sessionB)
		add(p.ID, 0, redFlag)

		got, err := s.CheckIns(ctx, p.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []programs.CheckIn{weekly, sessionA, daily, redFlag}
		if fmt.Sprint(deref(got)) != fmt.Sprint(deref(want)) {
			t.Errorf("CheckIns =\n%v\nwant\n%v", deref(got), deref(want))
		}
		if got[1].Dose == nil || *got[1].Dose != 0 || got[1].Function != nil {
			t.Errorf("a zero dose or a nil pointer did not round-trip: %+v", got[1])
		}
		if got, err := s.CheckIns(ctx, p.ID, b.ID); err != nil || len(got) != 4 || got[1].Status != programs.Done {
			t.Errorf("CheckIns for b = %v, %v", deref(got), err)
		}
		// A check-in cannot name another patient's assignment.
		if _, err := s.AddCheckIn(ctx, CheckIn{PatientID: p.ID, AssignmentID: qa.ID, CheckIn: sessionB}); err == nil {
			t.Error("a check-in against another patient's assignment was stored")
		}
	})
}

// deref spells out the pointers of check-ins, for comparison and messages.
func deref(cs []programs.CheckIn) []string {
	var out []string
	for _, c := range cs {
		v := func(p *int) string {
			if p == nil {
				return "nil"
			}
			return fmt.Sprint(*p)
		}
		tm := "nil"
		if c.Time != nil {
			tm = c.Time.String()
		}
		out = append(out, fmt.Sprintf("%s %s %q t=%s %s dose=%s pain=%s f=%s s=%s c=%s %q", c.Date, c.Kind, c.Activity,
			tm, c.Status, v(c.Dose), v(c.Pain), v(c.Function), v(c.Symptoms), v(c.Confidence), c.Answers))
	}
	return out
}

func TestOverrides(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		b := mkAssignment(t, s, p.ID)
		d := programs.MakeDate(2026, 3, 9)
		want := []programs.Overriding{
			{Date: d.AddDays(7), Kind: programs.DoseOverride, Activity: "walk", Value: 15},
			{Date: d, Kind: programs.PauseOverride},
			{Date: d.AddDays(3), Kind: programs.ResumeOverride},
		}
		for i, o := range want {
			got, err := s.AddOverride(ctx, Override{AssignmentID: a.ID, Overriding: o})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID == 0 || got.CreatedAt.IsZero() || got.Overriding != o {
				t.Errorf("added %+v", got)
			}
			want[i].At = got.CreatedAt // read back as when it was recorded
		}
		if _, err := s.AddOverride(ctx, Override{AssignmentID: b.ID, Overriding: programs.Overriding{Date: d, Kind: programs.GoalOverride, Activity: "walk", Value: 40}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Overrides(ctx, a.ID)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Overrides = %v, %v; want %v", got, err, want)
		}
		if _, err := s.AddOverride(ctx, Override{AssignmentID: b.ID + 100, Overriding: want[0]}); err == nil {
			t.Error("an override of a missing assignment was stored")
		}
	})
}

// plan is a week of walking at 07:30 and 18:00, then a week of stretching.
func plan(start programs.Date) []Session {
	var xs []Session
	for day := range 7 {
		for slot, at := range []programs.Clock{7*60 + 30, 18 * 60} {
			xs = append(xs, Session{Activity: "walk", Date: start.AddDays(day), Slot: slot, Time: at, Dose: 10,
				Sets: 1, Unit: programs.Minutes, Week: 1, Status: programs.Planned, Projected: true})
		}
		xs = append(xs, Session{Activity: "stretch", Date: start.AddDays(day + 7), Time: 12 * 60, Dose: 30,
			Sets: 3, Unit: programs.Seconds, Week: 2, Status: programs.Planned, Projected: true})
	}
	return xs
}

func feedVersion(t *testing.T, s *Store, therapistID, patientID int64) int64 {
	t.Helper()
	p, err := s.Patient(t.Context(), therapistID, patientID)
	if err != nil {
		t.Fatal(err)
	}
	return p.FeedVersion
}

// byKey indexes sessions by (activity, date, slot).
func byKey(xs []Session) map[sessionKey]Session {
	m := map[sessionKey]Session{}
	for _, x := range xs {
		m[keyOf(&x)] = x
	}
	return m
}

func TestSaveSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		start := a.Start
		all := func() []Session {
			t.Helper()
			xs, err := s.Sessions(ctx, p.ID, start, start.AddDays(30))
			if err != nil {
				t.Fatal(err)
			}
			return xs
		}
		t0 := time.Date(2026, 3, 1, 20, 0, 0, 987654321, time.UTC)
		decisions := []Decision{
			{Week: 2, Activity: "walk", Code: programs.Progress},
			{Week: 1, Activity: "", Code: programs.Start},
			{Week: 1, Activity: "walk", Code: programs.Start},
		}

		// First save: every session inserted at revision 0.
		want := plan(start)
		n, err := s.SaveSessions(ctx, a.ID, p.ID, want, decisions, t0)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(want) {
			t.Errorf("first save changed %d, want %d", n, len(want))
		}
		first := all()
		if len(first) != len(want) {
			t.Fatalf("%d sessions stored, want %d", len(first), len(want))
		}
		for _, x := range first {
			if x.ID == 0 || x.Revision != 0 || x.UpdatedAt != t0.Truncate(time.Millisecond) ||
				x.AssignmentID != a.ID || x.PatientID != p.ID || x.Status != programs.Planned || !x.Projected {
				t.Errorf("first save stored %+v", x)
			}
		}
		if w := byKey(want); len(w) != len(first) {
			t.Fatal("keys lost")
		} else {
			for _, x := range first {
				y := w[keyOf(&x)]
				if !sameContent(&x, &y) {
					t.Errorf("stored %+v, want %+v", x, y)
				}
			}
		}
		if v := feedVersion(t, s, th.ID, p.ID); v != 1 {
			t.Errorf("feed_version %d after the first save, want 1", v)
		}
		ds, err := s.Decisions(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantDs := []Decision{decisions[1], decisions[2], decisions[0]}
		for i := range wantDs {
			wantDs[i].AssignmentID = a.ID
		}
		if !slices.Equal(ds, wantDs) {
			t.Errorf("Decisions = %v, want %v", ds, wantDs)
		}

		// The same plan again: nothing moves.
		n, err = s.SaveSessions(ctx, a.ID, p.ID, plan(start), decisions, t0.Add(time.Hour))
		if err != nil || n != 0 {
			t.Errorf("same save: changed %d, %v; want 0", n, err)
		}
		if again := all(); !slices.Equal(again, first) {
			t.Errorf("same save changed rows:\n%v\nwant\n%v", again, first)
		}
		if v := feedVersion(t, s, th.ID, p.ID); v != 1 {
			t.Errorf("feed_version %d after an idle save, want 1", v)
		}

		// Only the decisions change: they are replaced, the feed does not move.
		n, err = s.SaveSessions(ctx, a.ID, p.ID, plan(start), decisions[1:2], t0.Add(time.Hour))
		if err != nil || n != 0 {
			t.Errorf("decisions only: changed %d, %v; want 0", n, err)
		}
		if ds, _ := s.Decisions(ctx, a.ID); len(ds) != 1 || ds[0].Code != programs.Start || ds[0].Activity != "" {
			t.Errorf("decisions not replaced: %v", ds)
		}
		if v := feedVersion(t, s, th.ID, p.ID); v != 1 {
			t.Errorf("feed_version %d after a decisions-only save, want 1", v)
		}

		// One dose changes: that row alone, once.
		want = plan(start)
		want[3].Dose = 12
		t2 := t0.Add(2 * time.Hour)
		n, err = s.SaveSessions(ctx, a.ID, p.ID, want, decisions[:1], t2)
		if err != nil || n != 1 {
			t.Errorf("one dose: changed %d, %v; want 1", n, err)
		}
		before, after := byKey(first), all()
		for _, x := range after {
			old := before[keyOf(&x)]
			if x.ID != old.ID {
				t.Errorf("id of %v moved: %d → %d", keyOf(&x), old.ID, x.ID)
			}
			if keyOf(&x) == keyOf(&want[3]) {
				if x.Dose != 12 || x.Revision != 1 || x.UpdatedAt != t2.Truncate(time.Millisecond) {
					t.Errorf("changed row %+v, want dose 12, revision 1, updated %v", x, t2)
				}
			} else if x != old {
				t.Errorf("untouched row changed: %+v, was %+v", x, old)
			}
		}
		if v := feedVersion(t, s, th.ID, p.ID); v != 2 {
			t.Errorf("feed_version %d after one change, want 2", v)
		}
		if ds, _ := s.Decisions(ctx, a.ID); len(ds) != 1 || ds[0].Code != programs.Progress {
			t.Errorf("decisions not replaced: %v", ds)
		}

		// A session dropped from the plan is cancelled, once.
		dropped := want[0]
		t3 := t0.Add(3 * time.Hour)
		for i, wantN := range []int{1, 0} {
			n, err = s.SaveSessions(ctx, a.ID, p.ID, want[1:], nil, t3.Add(time.Duration(i)*time.Hour))
			if err != nil || n != wantN {
				t.Errorf("drop, save %d: changed %d, %v; want %d", i, n, err, wantN)
			}
		}
		got := byKey(all())[keyOf(&dropped)]
		if got.Status != programs.Cancelled || got.Revision != 1 || got.UpdatedAt != t3.Truncate(time.Millisecond) ||
			got.ID != before[keyOf(&dropped)].ID {
			t.Errorf("dropped session %+v, want cancelled at revision 1, updated %v", got, t3)
		}
		if v := feedVersion(t, s, th.ID, p.ID); v != 3 {
			t.Errorf("feed_version %d after the cancellation, want 3", v)
		}
		if ds, _ := s.Decisions(ctx, a.ID); len(ds) != 0 {
			t.Errorf("decisions not cleared: %v", ds)
		}

		// Wanted again: back to planned, revision 2.
		if n, err := s.SaveSessions(ctx, a.ID, p.ID, want, nil, t3); err != nil || n != 1 {
			t.Errorf("restore: changed %d, %v", n, err)
		}
		if got := byKey(all())[keyOf(&dropped)]; got.Status != programs.Planned || got.Revision != 2 {
			t.Errorf("restored session %+v", got)
		}

		// The assignment must be the patient's.
		q := mkPatient(t, s, th.ID, "Q")
		_, err = s.SaveSessions(ctx, a.ID, q.ID, want, nil, t3)
		wantNotFound(t, "SaveSessions for another patient", err)
		if v := feedVersion(t, s, th.ID, q.ID); v != 0 {
			t.Errorf("the other patient's feed_version moved to %d", v)
		}
	})
}

// A transaction that fails half-way leaves nothing behind.
func TestSaveSessionsRollsBack(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		t0 := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
		decisions := []Decision{{Week: 1, Code: programs.Start}}
		if _, err := s.SaveSessions(ctx, a.ID, p.ID, plan(a.Start), decisions, t0); err != nil {
			t.Fatal(err)
		}
		snapshot := func() string {
			t.Helper()
			xs, err := s.Sessions(ctx, p.ID, a.Start, a.Start.AddDays(30))
			if err != nil {
				t.Fatal(err)
			}
			ds, err := s.Decisions(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(xs, ds, feedVersion(t, s, th.ID, p.ID))
		}
		before := snapshot()

		// Every session changes, one is dropped, one is added, and then a
		// decision violates the primary key: all of it must roll back.
		want := plan(a.Start)[1:]
		for i := range want {
			want[i].Dose += 5
		}
		want = append(want, Session{Activity: "walk", Date: a.Start.AddDays(20), Time: 600, Dose: 1, Sets: 1,
			Unit: programs.Minutes, Week: 3, Status: programs.Planned})
		bad := []Decision{
			{Week: 2, Activity: "walk", Code: programs.Progress},
			{Week: 2, Activity: "walk", Code: programs.HoldResponse},
		}
		if _, err := s.SaveSessions(ctx, a.ID, p.ID, want, bad, t0.Add(time.Hour)); err == nil {
			t.Fatal("a duplicate decision was accepted")
		}
		if after := snapshot(); after != before {
			t.Errorf("a failed save left changes:\n%s\nwas\n%s", after, before)
		}

		// A session wanted twice is refused before anything is written.
		dup := append(plan(a.Start), plan(a.Start)[0])
		if _, err := s.SaveSessions(ctx, a.ID, p.ID, dup, nil, t0.Add(time.Hour)); err == nil {
			t.Fatal("a duplicate session was accepted")
		}
		if after := snapshot(); after != before {
			t.Errorf("a refused save left changes")
		}
	})
}

// bigPlan is days of walking, three sessions a day.
func bigPlan(start programs.Date, days, dose int) []Session {
	var xs []Session
	for d := range days {
		for slot := range 3 {
			xs = append(xs, Session{Activity: "walk", Date: start.AddDays(d), Slot: slot,
				Time: programs.Clock(480 + 240*slot), Dose: dose, Sets: 1, Unit: programs.Minutes, Week: d/7 + 1,
				Status: programs.Planned, Projected: true})
		}
	}
	return xs
}

// A save cancelled while it writes leaves nothing behind.
func TestSaveSessionsCancelled(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		t0 := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
		if _, err := s.SaveSessions(t.Context(), a.ID, p.ID, bigPlan(a.Start, 700, 10), nil, t0); err != nil {
			t.Fatal(err)
		}
		snapshot := func() string {
			t.Helper()
			xs, err := s.Sessions(t.Context(), p.ID, a.Start, a.Start.AddDays(1000))
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(xs, feedVersion(t, s, th.ID, p.ID))
		}
		before := snapshot()

		// The save is cancelled at a fixed point, after it has written every
		// session and before it commits: the reminders callback runs there.
		// So the test cannot race the save, whatever the machine's speed.
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		cancelled := func([]Session) []Reminder { cancel(); return nil }
		// 2,100 sessions change, 900 are new.
		n, err := s.SavePlan(ctx, a.ID, p.ID, bigPlan(a.Start, 1000, 20), nil, cancelled, t0.Add(time.Hour))
		if err == nil {
			t.Fatalf("the save finished (%d changed) although it was cancelled", n)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled save: %v, want context.Canceled", err)
		}
		if after := snapshot(); after != before {
			t.Error("a cancelled save left changes")
		}
		// The write connection is usable again, not stuck in the transaction.
		if n, err := s.SaveSessions(t.Context(), a.ID, p.ID, bigPlan(a.Start, 1000, 20), nil, t0.Add(time.Hour)); err != nil || n != 3000 {
			t.Errorf("save after the cancelled one: changed %d, %v; want 3000", n, err)
		}
	})
}

func TestSessionsOrderAndRange(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		b := mkAssignment(t, s, p.ID)
		q := mkPatient(t, s, th.ID, "Q")
		qa := mkAssignment(t, s, q.ID)
		d := programs.MakeDate(2026, 3, 2)
		x := func(activity string, date programs.Date, slot int, at programs.Clock) Session {
			return Session{Activity: activity, Date: date, Slot: slot, Time: at, Dose: 5, Sets: 1, Unit: programs.Reps,
				Week: 1, Status: programs.Planned}
		}
		now := time.Now()
		must(s.SaveSessions(ctx, b.ID, p.ID, []Session{
			x("walk", d, 0, 600), x("core", d, 0, 600), x("walk", d.AddDays(1), 0, 60), x("walk", d.AddDays(-1), 0, 60),
		}, nil, now))
		must(s.SaveSessions(ctx, a.ID, p.ID, []Session{
			x("walk", d, 1, 600), x("walk", d, 0, 600), x("stretch", d, 0, 540), x("walk", d.AddDays(2), 0, 60),
			x("walk", d.AddDays(3), 0, 60),
		}, nil, now))
		must(s.SaveSessions(ctx, qa.ID, q.ID, []Session{x("walk", d, 0, 600)}, nil, now))

		got, err := s.Sessions(ctx, p.ID, d, d.AddDays(2))
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, x := range got {
			id := "a"
			if x.AssignmentID == b.ID {
				id = "b"
			}
			keys = append(keys, fmt.Sprintf("%s %s %s %s/%d", x.Date, x.Time, id, x.Activity, x.Slot))
		}
		want := []string{
			"2026-03-02 09:00 a stretch/0",
			"2026-03-02 10:00 a walk/0",
			"2026-03-02 10:00 a walk/1",
			"2026-03-02 10:00 b core/0",
			"2026-03-02 10:00 b walk/0",
			"2026-03-03 01:00 b walk/0",
			"2026-03-04 01:00 a walk/0",
		}
		if !slices.Equal(keys, want) {
			t.Errorf("Sessions =\n%s\nwant\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
		}
	})
}

// Check-ins written from many goroutines while others read feeds: no error,
// in particular no SQLITE_BUSY, and nothing lost.
func TestConcurrentWritesAndReads(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		if _, err := s.SaveSessions(ctx, a.ID, p.ID, plan(a.Start), nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		const writers, perWriter, readers = 8, 25, 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			errs    []error
			writing = make(chan struct{})
		)
		fail := func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		var wwg sync.WaitGroup
		for w := range writers {
			wwg.Go(func() {
				for i := range perWriter {
					c := programs.CheckIn{Date: a.Start.AddDays(i % 7), Kind: programs.SessionCheckIn, Activity: "walk",
						Status: programs.Done, Dose: intp(w*1000 + i)}
					if _, err := s.AddCheckIn(ctx, CheckIn{PatientID: p.ID, AssignmentID: a.ID, CheckIn: c}); err != nil {
						fail(err)
					}
				}
			})
		}
		// A materializer rewriting the plan at the same time holds longer
		// write transactions.
		wwg.Go(func() {
			for i := range 10 {
				want := plan(a.Start)
				want[0].Dose = 10 + i
				if _, err := s.SaveSessions(ctx, a.ID, p.ID, want, nil, time.Now()); err != nil {
					fail(err)
				}
			}
		})
		for range readers {
			wg.Go(func() {
				for reads := 0; ; reads++ {
					select {
					case <-writing:
						if reads > 0 {
							return
						}
					default:
					}
					xs, err := s.Sessions(ctx, p.ID, a.Start, a.Start.AddDays(30))
					if err != nil {
						fail(err)
						return
					}
					if len(xs) != len(plan(a.Start)) {
						fail(fmt.Errorf("read %d sessions", len(xs)))
						return
					}
					if _, err := s.PatientByFeedToken(ctx, HashToken("nobody")); !errors.Is(err, ErrNotFound) {
						fail(err)
						return
					}
				}
			})
		}
		wwg.Wait()
		close(writing)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		cs, err := s.CheckIns(ctx, p.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != writers*perWriter {
			t.Errorf("%d check-ins stored, want %d", len(cs), writers*perWriter)
		}
	})
}

// Two stores on one database, as the daemon and a CLI command (or two
// replicas), write at the same time without an error.
func TestTwoStoresOneDatabase(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		s1, s2 := openStore(t, dsn), openStore(t, dsn)
		if err := s1.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		th := mkTherapist(t, s1, "t@example.org")
		p := mkPatient(t, s1, th.ID, "P")
		a := mkAssignment(t, s1, p.ID)
		errs := make(chan error, 100)
		var wg sync.WaitGroup
		for i, s := range []*Store{s1, s2, s1, s2} {
			wg.Go(func() {
				for j := range 20 {
					if j%5 == 0 {
						want := plan(a.Start)
						want[1].Dose = i*100 + j
						if _, err := s.SaveSessions(t.Context(), a.ID, p.ID, want, nil, time.Now()); err != nil {
							errs <- err
						}
						continue
					}
					c := programs.CheckIn{Date: a.Start, Kind: programs.DailyCheckIn, Pain: intp(j % 11)}
					if _, err := s.AddCheckIn(t.Context(), CheckIn{PatientID: p.ID, CheckIn: c}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if cs, err := s2.CheckIns(t.Context(), p.ID, a.ID); err != nil || len(cs) != 4*16 {
			t.Errorf("%d check-ins, %v; want %d", len(cs), err, 4*16)
		}
	})
}

func TestSaveSessionsStatusOnly(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		t0 := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
		want := plan(a.Start)
		if _, err := s.SaveSessions(ctx, a.ID, p.ID, want, nil, t0); err != nil {
			t.Fatal(err)
		}
		// The first session is checked in as done: the status moves, but a
		// calendar shows it as before, so no revision, time or feed version moves.
		want[0].Status = programs.Done
		n, err := s.SaveSessions(ctx, a.ID, p.ID, want, nil, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		xs, err := s.Sessions(ctx, p.ID, a.Start, a.Start.AddDays(30))
		if err != nil {
			t.Fatal(err)
		}
		got := byKey(xs)[keyOf(&want[0])]
		if n != 0 || got.Status != programs.Done || got.Revision != 0 || !got.UpdatedAt.Equal(t0) {
			t.Errorf("changed %d; session %+v, want status done at revision 0, updated %s", n, got, t0)
		}
		if v := feedVersion(t, s, th.ID, p.ID); v != 1 {
			t.Errorf("feed_version %d, want 1 (unchanged)", v)
		}
	})
}

func TestActivePatients(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		th := mkTherapist(t, s, "t@example.org")
		idle := mkPatient(t, s, th.ID, "Idle")
		busy := mkPatient(t, s, th.ID, "Busy")
		mkAssignment(t, s, busy.ID)
		mkAssignment(t, s, busy.ID)
		ps, err := s.ActivePatients(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 || ps[0].ID != busy.ID || ps[0].Timezone == "" {
			t.Errorf("active patients %+v, want only %d (not %d)", ps, busy.ID, idle.ID)
		}
	})
}

// The store keeps at most maxPrograms decoded programs, however many
// patients have programs of their own, and decodes each again when asked.
func TestDecodedProgramsAreBounded(t *testing.T) {
	s := openStore(t, testkit.SQLite(t))
	yaml := string(template(t, "walking").YAML())
	for i := range maxPrograms + 10 {
		p, err := s.program([]byte(yaml + fmt.Sprintf("\n# %d\n", i)))
		if err != nil || p.ID != "walking" {
			t.Fatalf("program %d: %v, %v", i, p, err)
		}
	}
	n := 0
	s.programs.Range(func(any, any) bool { n++; return true })
	if n > maxPrograms || n == 0 {
		t.Errorf("%d decoded programs kept, want 1 to %d", n, maxPrograms)
	}
}
