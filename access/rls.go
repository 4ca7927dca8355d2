package access

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Row-level security (migration 0004) is the second line behind Predicate: a query that forgets
// the predicate still returns only what the subject may read, when it runs under the
// application's non-owner database role inside a transaction prepared by SetLocal. The table
// owner is not subject to it (the policy is not FORCEd); see docs/security.md.

// TxBeginner starts transactions: *pgxpool.Pool, *pgx.Conn and pgx.Tx all are.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Begin starts a transaction whose row-level-security settings are the subject's (SetLocal).
func Begin(ctx context.Context, db TxBeginner, s Subject) (pgx.Tx, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("access: begin: %w", err)
	}
	if err := SetLocal(ctx, tx, s); err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	return tx, nil
}

// SetLocal sets the row-level-security settings of the current transaction to the subject
// (infowork.clearance, infowork.categories, infowork.units, infowork.principals) and turns
// infowork.bypass off. The settings end with the transaction (or with a savepoint rolled back).
func SetLocal(ctx context.Context, tx pgx.Tx, s Subject) error {
	units := s.Units()
	if units == nil {
		units = []string{}
	}
	_, err := tx.Exec(ctx, `SELECT set_config('infowork.bypass', 'off', true),
			set_config('infowork.clearance', $1::int::text, true),
			set_config('infowork.categories', $2::text[]::text, true),
			set_config('infowork.principals', $3::text[]::text, true),
			set_config('infowork.units', CASE WHEN $4::boolean THEN '*'
				ELSE COALESCE((SELECT array_agg(id ORDER BY id)::text FROM units WHERE code = ANY ($5::text[])), '{}') END, true)`,
		s.level(), s.categories(), s.Principals(), s.AllUnits(), units)
	if err != nil {
		return fmt.Errorf("access: set row-level security settings for %s: %w", s.Username, err)
	}
	return nil
}

// SetBypass lets the current transaction see and write every row despite row-level security.
// Only trusted internal work uses it: the indexer loading documents, the demo loader, data
// migrations. It is a guard against forgotten predicates, not against SQL injection: any SQL the
// application role runs could set it.
func SetBypass(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT set_config('infowork.bypass', 'on', true)`); err != nil {
		return fmt.Errorf("access: set row-level security bypass: %w", err)
	}
	return nil
}
