package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/label"
	"infowork/periodical"
)

func init() {
	// The signer (签发人) signs issues of the demo periodicals.
	Accounts = append(Accounts, Account{"signer", "陈签发", access.RoleSigner, "", label.Secret, "签发人：签发刊物（每日要情、专报）"})
}

// demoPeriodicals are the periodicals of the demo: the daily 《每日要情》 and its special series 《专报》.
var demoPeriodicals = []periodical.PeriodicalInput{
	{Code: "mryq", Name: "每日要情", Kind: "regular", Level: "city", Frequency: "daily", Classification: label.Internal,
		Sections: []string{"要情快报", "基层动态", "社情民意"}, MastheadOrg: "中共示范市委办公室", FooterNote: "中共示范市委办公室信息科",
		Distribution: []string{"省委办公厅", "省政府办公厅", "市委常委", "市政府领导"}, SignerUsername: "signer"},
	{Code: "zb", Name: "专报", Kind: "special", ParentCode: "mryq", Level: "city", Frequency: "irregular", Classification: label.Internal,
		MastheadOrg: "中共示范市委办公室", FooterNote: "中共示范市委办公室信息科",
		Distribution: []string{"市委主要领导", "市政府主要领导"}, SignerUsername: "signer"},
}

// seedPeriodicals defines the demo periodicals once (kept when they exist), as the demo editor.
func seedPeriodicals(ctx context.Context, db *pgxpool.Pool) (int, error) {
	var editor access.Subject
	var cl int16
	err := db.QueryRow(ctx, `SELECT id, username, roles, clearance FROM users WHERE username = 'editor'`).Scan(&editor.UserID, &editor.Username, &editor.Roles, &cl)
	if err != nil {
		return 0, fmt.Errorf("demo: periodicals: editor account: %w", err)
	}
	editor.Clearance = label.Level(cl)
	svc := periodical.New(db, periodical.Options{})
	n := 0
	for _, in := range demoPeriodicals {
		if _, err := svc.PeriodicalByCode(ctx, in.Code); err == nil {
			continue
		} else if !errors.Is(err, periodical.ErrNotFound) {
			return n, err
		}
		if _, err := svc.CreatePeriodical(ctx, editor, in, ""); err != nil {
			return n, fmt.Errorf("demo: periodical %s: %w", in.Code, err)
		}
		n++
	}
	return n, nil
}
