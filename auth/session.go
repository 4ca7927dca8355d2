package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/audit"
)

// Session states (sessions.state).
const (
	StateActive     = "active"
	StateMFAPending = "mfa_pending" // password accepted, second factor still to come
)

// Restrictions of a session: what it may do is limited until the user acts. The webapp maps
// each to the only routes the session may use.
const (
	// RestrictMFA: the session is mfa_pending; only the second-factor step (or logout).
	RestrictMFA = "mfa_required"
	// RestrictPasswordChange: the password is an initial one or has expired; only the password
	// change.
	RestrictPasswordChange = "password_change_required"
	// RestrictMFAEnrollment: an administrator without a second factor; only enrollment.
	RestrictMFAEnrollment = "mfa_enrollment_required"
)

// RequiresMFA reports whether accounts with these roles must have a second factor: the three
// administrators (三员) always do.
func RequiresMFA(roles []string) bool {
	for _, r := range roles {
		if r == access.RoleSysAdmin || r == access.RoleSecAdmin || r == access.RoleAuditAdmin {
			return true
		}
	}
	return false
}

// restriction derives what a session may do from its state and its user.
func (s *Service) restriction(state string, u User) string {
	switch {
	case state == StateMFAPending:
		return RestrictMFA
	case u.MustChangePassword || s.passwordExpired(u.PasswordChangedAt, time.Now()):
		return RestrictPasswordChange
	case RequiresMFA(u.Roles) && !u.MFAEnrolled:
		return RestrictMFAEnrollment
	}
	return ""
}

// RevokeAll ends every session of the user at once, on every replica, and audits it. The
// administrators' pages call it when an account is disabled or its roles or clearance change;
// ChangePassword does the same for the other sessions of the user.
func (s *Service) RevokeAll(ctx context.Context, userID int64, reason string) (int64, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("auth: revoke sessions of user %d: %w", userID, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	n, err := revokeSessions(ctx, tx, userID, nil, reason)
	if err != nil {
		return 0, err
	}
	var username string
	_ = tx.QueryRow(ctx, `SELECT username FROM users WHERE id = $1`, userID).Scan(&username)
	if err := audit.Record(ctx, tx, audit.Event{UserID: userID, Username: username, Action: "session.revoke_all",
		Object: "user:" + username, Detail: fmt.Sprintf("%s; %d sessions revoked", reason, n)}); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("auth: revoke sessions of user %d: %w", userID, err)
	}
	return n, nil
}

// revokeSessions revokes the user's live sessions except the one whose token hash is keep.
func revokeSessions(ctx context.Context, tx pgx.Tx, userID int64, keep []byte, reason string) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = $3
		WHERE user_id = $1 AND revoked_at IS NULL AND ($2::bytea IS NULL OR token_hash <> $2)`, userID, keep, truncate(reason, 200))
	if err != nil {
		return 0, fmt.Errorf("auth: revoke sessions of user %d: %w", userID, err)
	}
	return tag.RowsAffected(), nil
}
