package store

import (
	"context"
	"database/sql"
)

// stmtCache runs a transaction's statements, preparing each query once per
// transaction on SQLite rather than at every call: parsing a statement costs
// about as much as running it, and a re-plan runs the same few dozen
// queries for every patient of a batch (WithPatients). The statements close
// with the transaction. On PostgreSQL it passes the queries through: pgx
// keeps prepared statements per connection itself.
//
// Its statements run without ctx's cancellation: the driver would watch it
// with a goroutine for each statement, which costs more than the
// statement; database/sql rolls the transaction back when ctx ends, and the
// callers check ctx between patients.
type stmtCache struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt // nil on PostgreSQL
}

// maxCachedStmts bounds a transaction's cache; the queries of the re-plan
// path are far fewer.
const maxCachedStmts = 128

func (s *Store) stmtCache(tx *sql.Tx) *stmtCache {
	c := &stmtCache{tx: tx}
	if s.dialect == SQLite {
		c.stmts = map[string]*sql.Stmt{}
	}
	return c
}

// stmt is query's statement in the transaction, or nil to run it unprepared.
func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.stmts == nil {
		return nil, nil
	}
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		if err != nil {
			return nil, err
		}
		return c.tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		if err != nil {
			return nil, err
		}
		return c.tx.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext is as sql.Tx's; an error preparing the query is the
// row's Scan error.
func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		return c.tx.QueryRowContext(ctx, query, args...) // fails the same way if the query is bad
	}
	return st.QueryRowContext(ctx, args...)
}

func (c *stmtCache) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.tx.PrepareContext(ctx, query)
}

// close closes the statements; the transaction's end would too.
func (c *stmtCache) close() {
	for _, st := range c.stmts {
		st.Close()
	}
}
