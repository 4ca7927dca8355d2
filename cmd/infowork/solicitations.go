package main

import (
	"context"
	"fmt"

	"infowork/solicitation"
)

// cmdSolicitations: `infowork solicitations refresh` records every target unit's answer (on
// time, late, missing once the deadline passed) in solicitation_targets, which scoring reads.
// Pages and the API refresh what they show; run this from cron (or before a scoring sync) so
// that deadlines passing with no one looking are recorded too.
func cmdSolicitations(ctx context.Context, args []string) error {
	if len(args) != 1 || args[0] != "refresh" {
		return usageError{"solicitations: want 'solicitations refresh'"}
	}
	_, db, _, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := solicitation.New(db).RefreshAll(ctx); err != nil {
		return err
	}
	var missing, late int
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'missing'), count(*) FILTER (WHERE status = 'late')
		FROM solicitation_targets`).Scan(&missing, &late); err != nil {
		return err
	}
	fmt.Printf("solicitation answers recorded: %d missing, %d late\n", missing, late)
	return nil
}
