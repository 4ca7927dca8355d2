package solicitation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"infowork/access"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/solicitation"
	"infowork/submission"
	"infowork/unit"
)

func TestAnswersOnTimeLateMissing(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	for _, u := range []unit.Unit{{Code: "Z101", Name: "东湖街道", Kind: unit.KindDirect}, {Code: "Z102", Name: "西湖街道", Kind: unit.KindDirect},
		{Code: "Z103", Name: "望月湖街道", Kind: unit.KindDirect}} {
		if _, err := unit.Upsert(ctx, db, u); err != nil {
			t.Fatal(err)
		}
	}
	subj := func(name, role, unitCode string) access.Subject {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO users (username, password_hash, unit_id, roles, clearance)
			VALUES ($1, 'x', (SELECT id FROM units WHERE code = $2), $3, 2) RETURNING id`, name, unitCode, []string{role}).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return access.Subject{UserID: id, Username: name, UnitCode: unitCode, Roles: []string{role}, Clearance: label.Secret}
	}
	ed, a, b, c := subj("editor1", access.RoleEditor, ""), subj("rep_a", access.RoleReporter, "Z101"), subj("rep_b", access.RoleReporter, "Z102"), subj("rep_c", access.RoleReporter, "Z103")
	svc, subs := solicitation.New(db), submission.New(db)

	deadline := time.Now().Add(time.Hour)
	if _, err := svc.Create(ctx, a, solicitation.Input{Topic: "x", Deadline: &deadline, UnitCodes: []string{"Z101"}}); err == nil {
		t.Fatal("a reporter issued a solicitation")
	}
	_, err := svc.Create(ctx, ed, solicitation.Input{Topic: "防汛"})
	var ve *solicitation.ValidationError
	if !errors.As(err, &ve) || ve.Fields["deadline"] == "" || ve.Fields["units"] == "" {
		t.Fatalf("solicitation without deadline and units: %v", err)
	}
	so, err := svc.Create(ctx, ed, solicitation.Input{Topic: "汛期防汛工作情况", Deadline: &deadline, UnitCodes: []string{"Z101", "Z102"}})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := svc.Create(ctx, ed, solicitation.Input{Kind: solicitation.KindKeyPoint, Topic: "基层治理创新做法"})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(who access.Subject, sid int64) error {
		_, err := subs.Create(ctx, who, submission.Input{Title: "答复", Body: "正文", WriterName: "张三", WriterPhone: "13812345678", SolicitationID: sid}, "")
		return err
	}
	if err := answer(a, so.ID); err != nil {
		t.Fatal(err)
	}
	if err := answer(c, so.ID); err == nil {
		t.Fatal("a unit not asked answered the solicitation")
	}
	if err := answer(c, kp.ID); err != nil { // key points are open to every unit
		t.Fatal(err)
	}
	status := func() map[string]string {
		got, err := svc.Get(ctx, ed, so.ID)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, tg := range got.Targets {
			m[tg.UnitCode] = tg.Status
		}
		return m
	}
	if m := status(); m["Z101"] != solicitation.StatusOnTime || m["Z102"] != solicitation.StatusPending || len(m) != 2 {
		t.Fatalf("before the deadline: %v", m)
	}
	// Time passes: the deadline is a minute ago, and Z101's answer came in before it.
	if _, err := db.Exec(ctx, `UPDATE submissions SET reported_at = now() - interval '1 hour' WHERE solicitation_id = $1`, so.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE solicitations SET deadline = now() - interval '1 minute' WHERE id = $1`, so.ID); err != nil {
		t.Fatal(err)
	}
	if m := status(); m["Z101"] != solicitation.StatusOnTime || m["Z102"] != solicitation.StatusMissing {
		t.Fatalf("after the deadline: %v", m)
	}
	if err := answer(b, so.ID); err != nil {
		t.Fatal(err)
	}
	if m := status(); m["Z102"] != solicitation.StatusLate {
		t.Fatalf("late answer: %v", m)
	}
	// A unit sees its own row only, and not solicitations addressed to others.
	got, err := svc.Get(ctx, b, so.ID)
	if err != nil || len(got.Targets) != 1 || got.Targets[0].UnitCode != "Z102" {
		t.Fatalf("unit view: %v %+v", err, got.Targets)
	}
	list, err := svc.List(ctx, c)
	if err != nil || len(list) != 1 || list[0].ID != kp.ID {
		t.Fatalf("Z103 list: %v %+v", err, list)
	}
}
