package store

import (
	"context"
	"fmt"

	"pacer/programs"
)

// CurrentDecisions counts the active assignments by the code of the decision
// of the week that holds today (a week begins on the start date's weekday),
// for the metrics. today is a date in UTC, so an assignment may count a week
// early or late for a few hours around its patient's midnight.
func (s *Store) CurrentDecisions(ctx context.Context, today programs.Date) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT d.code, COUNT(*) FROM assignments a
		JOIN plan_weeks d ON d.assignment_id = a.id AND d.activity = ''
			AND d.week = (? - a.start_date) / 7 + 1
		WHERE a.status = 'active' AND a.start_date <= ?
		GROUP BY d.code`), int64(today), int64(today))
	if err != nil {
		return nil, fmt.Errorf("current decisions: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var (
			code string
			n    int
		)
		if err := rows.Scan(&code, &n); err != nil {
			return nil, fmt.Errorf("current decisions: %w", err)
		}
		counts[code] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("current decisions: %w", err)
	}
	return counts, nil
}
