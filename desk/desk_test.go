package desk_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/desk"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/submission"
	"infowork/unit"
	"infowork/workflow"
)

type fixture struct {
	db    *pgxpool.Pool
	subs  *submission.Service
	wf    *workflow.Service
	desk  *desk.Service
	inbox *desk.Inbox
	users map[string]access.Subject
}

func newFixture(t *testing.T) *fixture { return newFixtureTB(t) }

func newFixtureTB(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	for _, u := range []unit.Unit{{Code: "Z101", Name: "芙蓉区东湖街道直报点", Kind: unit.KindDirect, District: "芙蓉区"},
		{Code: "Z102", Name: "岳麓区西湖街道直报点", Kind: unit.KindDirect, District: "岳麓区"}} {
		if _, err := unit.Upsert(ctx, db, u); err != nil {
			t.Fatal(err)
		}
	}
	wf := workflow.New(db)
	f := &fixture{db: db, subs: submission.New(db), wf: wf, desk: desk.New(db, wf, desk.Options{}), inbox: desk.NewInbox(db),
		users: map[string]access.Subject{}}
	for _, u := range []struct {
		name, role, unit string
		clearance        label.Level
	}{
		{"rep_a", access.RoleReporter, "Z101", label.Internal}, {"rep_b", access.RoleReporter, "Z102", label.Internal},
		{"editor1", access.RoleEditor, "", label.Secret}, {"editor2", access.RoleEditor, "", label.Secret},
		{"lowed", access.RoleEditor, "", label.Public}, {"chief", access.RoleSigner, "", label.Secret},
	} {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO users (username, display_name, password_hash, unit_id, roles, clearance)
			VALUES ($1, '测试' || $1, 'x', (SELECT id FROM units WHERE code = $2), $3, $4) RETURNING id`,
			u.name, u.unit, []string{u.role}, int(u.clearance)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.users[u.name] = access.Subject{UserID: id, Username: u.name, UnitCode: u.unit, Roles: []string{u.role}, Clearance: u.clearance}
	}
	return f
}

// report creates a report of rep_a directly in the submitted state.
func (f *fixture) report(t *testing.T, title, urgency, classification string) int64 {
	t.Helper()
	c, err := f.subs.Create(context.Background(), f.users["rep_a"], submission.Input{Title: title, Body: "正文。", Urgency: urgency,
		Classification: classification, WriterName: "张三", WriterPhone: "13812345678"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func (f *fixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestQueuesAgeAndOverdue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	fresh := f.report(t, "新近报送", "normal", "")
	old := f.report(t, "积压五天", "normal", "")
	urgent := f.report(t, "特急六小时", "very_urgent", "")
	secret := f.report(t, "内部事项", "normal", "internal")
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET state_entered_at = now() - interval '5 days' WHERE id = $1`, old); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET state_entered_at = now() - interval '6 hours' WHERE id = $1`, urgent); err != nil {
		t.Fatal(err)
	}
	v, err := f.desk.Desk(ctx, f.users["editor1"], desk.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	q := map[string]desk.Queue{}
	for _, x := range v.Queues {
		q[x.State] = x
	}
	if q["submitted"].Count != 4 || q["submitted"].Overdue != 2 || q["submitted"].Name != "已报送" || q["in_review"].Count != 0 {
		t.Fatalf("queues: %+v", v.Queues)
	}
	if _, ok := q["draft"]; ok {
		t.Error("unit drafts are on the desk")
	}
	byID := map[int64]desk.Item{}
	for _, it := range v.Items {
		byID[it.ID] = it
	}
	if txt, lvl := byID[old].AgeBadge(); txt != "5 天" || lvl != "old" || !byID[old].Overdue {
		t.Errorf("old item: %s %s overdue=%v", txt, lvl, byID[old].Overdue)
	}
	if !byID[urgent].Overdue || byID[fresh].Overdue {
		t.Errorf("overdue flags: urgent %v fresh %v", byID[urgent].Overdue, byID[fresh].Overdue)
	}
	if _, lvl := byID[fresh].AgeBadge(); lvl != "fresh" {
		t.Errorf("fresh badge %s", lvl)
	}
	// An explicit due date wins over the urgency's default.
	future := time.Now().Add(48 * time.Hour)
	if err := f.desk.SetDue(ctx, f.users["editor1"], old, &future, ""); err != nil {
		t.Fatal(err)
	}
	if v, _ = f.desk.Desk(ctx, f.users["editor1"], desk.Filter{Overdue: true}); v.Total != 1 || v.Items[0].ID != urgent {
		t.Errorf("overdue filter after a due date: %+v", v.Items)
	}
	// Counts respect access: an editor cleared only for 公开 does not see the 内部 item, not even
	// as a number.
	lv, err := f.desk.Desk(ctx, f.users["lowed"], desk.Filter{State: "submitted"})
	if err != nil {
		t.Fatal(err)
	}
	if lv.Queues[slicesIndex(lv.Queues, "submitted")].Count != 3 || lv.Total != 3 {
		t.Errorf("low-clearance editor counts %+v total %d", lv.Queues, lv.Total)
	}
	for _, it := range lv.Items {
		if it.ID == secret {
			t.Error("low-clearance editor sees the 内部 item")
		}
	}
	// The reporter of another unit sees nothing.
	if ov, _ := f.desk.Desk(ctx, f.users["rep_b"], desk.Filter{}); ov.Total != 0 {
		t.Errorf("another unit sees %d items", ov.Total)
	}
	if _, err := f.desk.Desk(ctx, f.users["editor1"], desk.Filter{State: "nowhere"}); err == nil {
		t.Error("unknown queue accepted")
	}
	// Mine: assigned to me.
	if _, err := f.desk.Assign(ctx, f.users["editor1"], fresh, "editor1", ""); err != nil {
		t.Fatal(err)
	}
	if mv, _ := f.desk.Desk(ctx, f.users["editor1"], desk.Filter{Mine: true}); mv.Total != 1 || mv.Items[0].Assignee != "测试editor1" {
		t.Errorf("mine: %+v", mv.Items)
	}
}

func slicesIndex(qs []desk.Queue, state string) int {
	for i, q := range qs {
		if q.State == state {
			return i
		}
	}
	return -1
}

func TestAssignNotifiesAndAudits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.report(t, "分派测试", "normal", "internal")
	name, err := f.desk.Assign(ctx, f.users["editor1"], id, "editor2", "10.1.1.1")
	if err != nil || name != "测试editor2" {
		t.Fatalf("assign: %q %v", name, err)
	}
	if n := f.count(t, `SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = 'desk.assign' AND submission_id = $2`, f.users["editor2"].UserID, id); n != 1 {
		t.Errorf("assignee notified %d times", n)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'desk.assign' AND object = $1 AND detail = 'assignee=editor2'`, "submission:"+strconv.FormatInt(id, 10)); n != 1 {
		t.Errorf("assignment audited %d times", n)
	}
	// Not to someone who may not read it, nor to a reporter; a reporter may not assign.
	var ie *desk.InputError
	if _, err := f.desk.Assign(ctx, f.users["editor1"], id, "lowed", ""); !errors.As(err, &ie) {
		t.Errorf("assigned to an editor without clearance: %v", err)
	}
	if _, err := f.desk.Assign(ctx, f.users["editor1"], id, "rep_a", ""); !errors.As(err, &ie) {
		t.Errorf("assigned to a reporter: %v", err)
	}
	if _, err := f.desk.Assign(ctx, f.users["rep_a"], id, "editor1", ""); !errors.Is(err, desk.ErrForbidden) {
		t.Errorf("reporter assigns: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM submissions WHERE id = $1 AND assignee_id = $2`, id, f.users["editor2"].UserID); n != 1 {
		t.Error("a refused assignment changed the assignee")
	}
	// Assignment is not content: the version stays.
	if n := f.count(t, `SELECT count(*) FROM submissions WHERE id = $1 AND version = 1`, id); n != 1 {
		t.Error("assignment bumped the version")
	}
}

func TestSoftLockAndPrivilegedUnlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.report(t, "锁定测试", "normal", "")
	until, err := f.desk.Lock(ctx, f.users["editor1"], id)
	if err != nil || time.Until(until) < 29*time.Minute {
		t.Fatalf("lock: %v %v", until, err)
	}
	var le *desk.LockedError
	if _, err := f.desk.Lock(ctx, f.users["editor2"], id); !errors.As(err, &le) || le.Holder != "测试editor1" {
		t.Fatalf("second editor locks: %v", err)
	}
	card, err := f.desk.Card(ctx, f.users["editor2"], id)
	if err != nil || card.LockHolder != "测试editor1" || card.LockUntil == nil {
		t.Fatalf("card shows lock: %+v %v", card, err)
	}
	// The workflow refuses the other editor while the lock lives.
	var re *workflow.RefusedError
	if _, err := f.wf.Transition(ctx, f.users["editor2"], id, "review", workflow.Input{ExpectedVersion: 1}); !errors.As(err, &re) || re.Kind != workflow.RefusedLocked {
		t.Fatalf("transition under another's lock: %v", err)
	}
	if err := f.desk.Unlock(ctx, f.users["editor2"], id, ""); !errors.Is(err, desk.ErrForbidden) {
		t.Fatalf("editor2 unlocks editor1's lock: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'desk.unlock'`); n != 0 {
		t.Errorf("refused unlock audited as done")
	}
	if err := f.desk.Unlock(ctx, f.users["chief"], id, "10.2.2.2"); err != nil {
		t.Fatalf("signer unlocks: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'desk.unlock' AND username = 'chief' AND client_ip = '10.2.2.2'
		AND detail LIKE '%holder=测试editor1%'`); n != 1 {
		t.Errorf("privileged unlock audited %d times", n)
	}
	if n := f.count(t, `SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = 'desk.unlock'`, f.users["editor1"].UserID); n != 1 {
		t.Errorf("holder told of the unlock %d times", n)
	}
	if _, err := f.desk.Lock(ctx, f.users["editor2"], id); err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	// The holder releases their own lock without audit.
	if err := f.desk.Unlock(ctx, f.users["editor2"], id, ""); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, `SELECT count(*) FROM submissions WHERE id = $1 AND lock_holder_id IS NULL`, id); n != 1 {
		t.Error("lock not released")
	}
	// An expired lock is no lock.
	short := desk.New(f.db, f.wf, desk.Options{LockTTL: time.Second})
	if _, err := short.Lock(ctx, f.users["editor1"], id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET lock_expires_at = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.desk.Lock(ctx, f.users["editor2"], id); err != nil {
		t.Errorf("expired lock still holds: %v", err)
	}
}

func TestCommentsMentionsInbox(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.report(t, "评论测试", "normal", "internal")
	res, err := f.desk.AddComment(ctx, f.users["editor1"], id, "请 @editor2 核实数据，@lowed 和 @rep_b 也看看，@nobody", "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Notified, ",") != "editor2" || strings.Join(res.NotNotified, ",") != "lowed,rep_b,nobody" {
		t.Errorf("notified %v, not %v", res.Notified, res.NotNotified)
	}
	if n, _ := f.inbox.Unread(ctx, f.users["editor2"].UserID); n != 1 {
		t.Errorf("editor2 unread %d", n)
	}
	for _, who := range []string{"lowed", "rep_b", "editor1"} {
		if n, _ := f.inbox.Unread(ctx, f.users[who].UserID); n != 0 {
			t.Errorf("%s got %d notifications", who, n)
		}
	}
	list, err := f.inbox.List(ctx, f.users["editor2"].UserID, false, 10)
	if err != nil || len(list) != 1 || list[0].SubmissionID != id || !strings.Contains(list[0].Message, "提到了您") || strings.Contains(list[0].Message, "核实") {
		t.Fatalf("inbox: %+v %v", list, err)
	}
	// Marking someone else's notification does nothing; one's own works.
	if n, _ := f.inbox.MarkRead(ctx, f.users["editor1"].UserID, []int64{list[0].ID}); n != 0 {
		t.Error("marked another user's notification")
	}
	if n, _ := f.inbox.MarkRead(ctx, f.users["editor2"].UserID, []int64{list[0].ID}); n != 1 {
		t.Error("could not mark own notification")
	}
	if n, _ := f.inbox.Unread(ctx, f.users["editor2"].UserID); n != 0 {
		t.Errorf("unread after marking: %d", n)
	}
	card, err := f.desk.Card(ctx, f.users["rep_a"], id)
	if err != nil || len(card.Comments) != 1 || card.Comments[0].Author != "测试editor1" || card.Comments[0].Mentions[0] != "editor2" {
		t.Fatalf("card comments: %+v %v", card.Comments, err)
	}
	// Another unit may neither read nor comment.
	if _, err := f.desk.AddComment(ctx, f.users["rep_b"], id, "看看", ""); !errors.Is(err, desk.ErrNotFound) {
		t.Errorf("another unit comments: %v", err)
	}
	var ie *desk.InputError
	if _, err := f.desk.AddComment(ctx, f.users["editor1"], id, "   ", ""); !errors.As(err, &ie) {
		t.Errorf("empty comment: %v", err)
	}
	if _, err := f.db.Exec(ctx, `DELETE FROM submission_comments`); err == nil {
		t.Error("comments can be deleted")
	}
}

// smtpServer is a small SMTP listener speaking RFC 5321 (EHLO, MAIL, RCPT, DATA, QUIT) that
// records each message, to test the sender over the real protocol.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
	rcpt []string
	got  chan struct{}
}

func startSMTP(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, got: make(chan struct{}, 10)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(l string) { io.WriteString(c, l+"\r\n") }
	say("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			s.mu.Lock()
			s.rcpt = append(s.rcpt, strings.TrimSpace(line[8:]))
			s.mu.Unlock()
			say("250 ok")
		case cmd == "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			say("250 queued")
			s.got <- struct{}{}
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func TestDispatcherSMTPAndWebhook(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	srv := startSMTP(t)
	var mu sync.Mutex
	var hooks []map[string]any
	fail := true
	secret := []byte("s3cret")
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if r.Header.Get("X-Infowork-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		hooks = append(hooks, m)
	}))
	defer hook.Close()
	if err := desk.SetChannel(ctx, f.db, f.users["editor2"].UserID, "email", "editor2@example.gov.cn"); err != nil {
		t.Fatal(err)
	}
	if err := desk.SetChannel(ctx, f.db, f.users["chief"].UserID, "webhook", hook.URL+"/sms"); err != nil {
		t.Fatal(err)
	}
	id := f.report(t, "投递测试", "normal", "")
	if _, err := f.desk.AddComment(ctx, f.users["editor1"], id, "@editor2 @chief 请看", ""); err != nil {
		t.Fatal(err)
	}
	d, err := desk.NewDispatcher(f.db, desk.DispatcherOptions{BaseURL: "https://xinxi.example.gov.cn",
		Senders: []desk.Sender{&desk.SMTPSender{Addr: srv.ln.Addr().String(), From: "noreply@example.gov.cn"}, &desk.WebhookSender{Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	sent, failed, err := d.RunOnce(ctx)
	if err != nil || sent != 1 || failed != 1 {
		t.Fatalf("first round: sent %d failed %d %v", sent, failed, err)
	}
	<-srv.got
	srv.mu.Lock()
	msg, rcpt := srv.msgs[0], srv.rcpt[0]
	srv.mu.Unlock()
	if rcpt != "<editor2@example.gov.cn>" || !strings.Contains(msg, "Subject: =?utf-8?b?") ||
		!strings.Contains(msg, "提到了您") || !strings.Contains(msg, "https://xinxi.example.gov.cn/submissions/") {
		t.Errorf("mail to %s:\n%s", rcpt, msg)
	}
	// The failed webhook waits for its backoff; make it due and run again.
	if n := f.count(t, `SELECT count(*) FROM notifications WHERE sent_at IS NULL AND send_attempts = 1 AND send_error LIKE '%503%'`); n != 1 {
		t.Errorf("failed delivery not recorded (%d)", n)
	}
	if sent, _, _ := d.RunOnce(ctx); sent != 0 {
		t.Errorf("retried before its backoff")
	}
	if _, err := f.db.Exec(ctx, `UPDATE notifications SET send_after = now() WHERE sent_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if sent, failed, err := d.RunOnce(ctx); sent != 1 || failed != 0 || err != nil {
		t.Fatalf("second round: %d %d %v", sent, failed, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooks) != 1 || hooks[0]["user"] != "chief" || hooks[0]["submission_id"] != float64(id) {
		t.Errorf("webhook got %+v", hooks)
	}
	if n := f.count(t, `SELECT count(*) FROM notifications WHERE sent_at IS NULL`); n != 0 {
		t.Errorf("%d notifications left unsent", n)
	}
}

// TestConcurrentLocksOneWins: editors racing for a free lock get exactly one holder; everyone
// else is told who holds it.
func TestConcurrentLocksOneWins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.report(t, "并发锁定", "normal", "")
	who := []string{"editor1", "editor2", "chief", "lowed"}
	errs := make([]error, len(who))
	var wg sync.WaitGroup
	for i, u := range who {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.desk.Lock(ctx, f.users[u], id)
		}()
	}
	wg.Wait()
	won, refused := 0, 0
	var holder string
	for i, err := range errs {
		var le *desk.LockedError
		switch {
		case err == nil:
			won++
			holder = "测试" + who[i]
		case errors.As(err, &le):
			refused++
		default:
			t.Errorf("%s: %v", who[i], err)
		}
	}
	if won != 1 || refused != len(who)-1 {
		t.Fatalf("%d won, %d refused", won, refused)
	}
	for _, err := range errs {
		var le *desk.LockedError
		if errors.As(err, &le) && le.Holder != holder {
			t.Errorf("refusal names %q, holder is %q", le.Holder, holder)
		}
	}
}
