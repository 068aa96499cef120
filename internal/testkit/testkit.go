// Package testkit is what pacer's tests share: the databases they run on
// (a fresh SQLite file, and PostgreSQL in a schema of the test's own when
// PACER_TEST_POSTGRES_URL is set) and a settable clock. It imports nothing
// of pacer's, so that any package's tests may use it, the store's included;
// testkit/fixture builds store rows and testkit/testserver a running server.
package testkit

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx", to make and drop schemas
)

// PostgresEnv names the variable that holds the URL of a PostgreSQL database
// the tests may make schemas in.
const PostgresEnv = "PACER_TEST_POSTGRES_URL"

// Stores runs fn as a subtest per store: "sqlite" with the DSN of a fresh
// file, and "postgres" with a fresh schema, skipped (visibly) when
// PACER_TEST_POSTGRES_URL is not set.
func Stores(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite is the DSN of a fresh SQLite file in the test's (or benchmark's)
// temporary directory.
func SQLite(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "pacer.db")
}

// Postgres is the DSN of a fresh PostgreSQL schema of the test's own,
// dropped when the test ends; without PACER_TEST_POSTGRES_URL the test is
// skipped, saying so.
func Postgres(t *testing.T) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip("PostgreSQL: set " + PostgresEnv + " (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run")
	}
	return PostgresSchema(t, base)
}

// PostgresSchema creates a schema of the test's own in the database at base,
// dropped when the test ends, and returns base with search_path pointing at
// it.
func PostgresSchema(t *testing.T, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "pacer_test_" + Random(8)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema (is PostgreSQL at %s up?): %v", PostgresEnv, err)
	}
	// Registered before the caller's store closes, so it runs after it.
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Random is n random bytes in hex.
func Random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
