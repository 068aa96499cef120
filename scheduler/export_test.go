package scheduler

import (
	"context"

	"pacer/internal/store"
)

// Lead runs the jobs as the holder of l until ctx ends, for the external
// tests.
func (j *Jobs) Lead(ctx context.Context, l *store.Leader) { j.lead(ctx, l) }
