package desk

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Message is one notification on its way to one address.
type Message struct {
	NotificationID int64
	Address        string // e-mail address, webhook URL, phone number: what the channel holds
	Username       string
	Kind           string
	Text           string // the notification's message: it names the item, never its content
	SubmissionID   int64
	Link           string // absolute link to the item, when the dispatcher knows the base URL
	At             time.Time
}

// Sender delivers messages over one channel kind ("email", "webhook", "sms"). An SMS gateway
// is a Sender too; most gateways here are reached by a webhook.
type Sender interface {
	Kind() string
	Send(ctx context.Context, m Message) error
}

// SMTPSender sends e-mail through an SMTP relay (RFC 5321), with STARTTLS when the relay offers
// it and TLS is configured.
type SMTPSender struct {
	Addr      string      // host:port of the relay
	From      string      // envelope and header sender
	Auth      smtp.Auth   // optional
	TLSConfig *tls.Config // optional; STARTTLS is used when set and offered
	Timeout   time.Duration
}

var _ Sender = (*SMTPSender)(nil)

// Kind is "email".
func (s *SMTPSender) Kind() string { return "email" }

// Send delivers m to m.Address.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	if strings.ContainsAny(m.Address, "\r\n<>") || !strings.Contains(m.Address, "@") {
		return fmt.Errorf("smtp: invalid address %q", m.Address)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp: dial %s: %w", s.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok && s.TLSConfig != nil {
		if err := c.StartTLS(s.TLSConfig); err != nil {
			return fmt.Errorf("smtp: starttls: %w", err)
		}
	}
	if s.Auth != nil {
		if err := c.Auth(s.Auth); err != nil {
			return fmt.Errorf("smtp: auth: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.Address); err != nil {
		return fmt.Errorf("smtp: RCPT TO %s: %w", m.Address, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	body := m.Text + "\r\n"
	if m.Link != "" {
		body += "\r\n" + m.Link + "\r\n"
	}
	body += "\r\n-- \r\n信息工作管理系统（请勿直接回复）\r\n"
	hdr := "From: " + s.From + "\r\nTo: " + m.Address + "\r\nSubject: " + mime.BEncoding.Encode("utf-8", "[信息工作] "+m.Text) +
		"\r\nDate: " + m.At.Format(time.RFC1123Z) + "\r\nMessage-ID: <notification-" + strconv.FormatInt(m.NotificationID, 10) + "@infowork>" +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	if _, err := io.WriteString(w, hdr+body); err != nil {
		return fmt.Errorf("smtp: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: end of data: %w", err)
	}
	return c.Quit()
}

// WebhookSender posts each message as JSON to the channel's URL (an SMS gateway, a chat bot, a
// unit's own system), signed with HMAC-SHA256 of the body in X-Infowork-Signature when Secret
// is set. Any 2xx answer is delivery.
type WebhookSender struct {
	Client *http.Client // default: 10 s timeout
	Secret []byte
	// ChannelKind is the kind this sender serves: "webhook" (default) or "sms".
	ChannelKind string
}

var _ Sender = (*WebhookSender)(nil)

// Kind is ChannelKind, "webhook" by default.
func (s *WebhookSender) Kind() string {
	if s.ChannelKind != "" {
		return s.ChannelKind
	}
	return "webhook"
}

// Send posts m to m.Address.
func (s *WebhookSender) Send(ctx context.Context, m Message) error {
	if !strings.HasPrefix(m.Address, "https://") && !strings.HasPrefix(m.Address, "http://") {
		return fmt.Errorf("webhook: address %q is not an http(s) URL", m.Address)
	}
	body, err := json.Marshal(map[string]any{"notification_id": m.NotificationID, "user": m.Username, "kind": m.Kind,
		"message": m.Text, "submission_id": m.SubmissionID, "link": m.Link, "at": m.At.UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Address, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "notification-"+strconv.FormatInt(m.NotificationID, 10))
	if len(s.Secret) > 0 {
		mac := hmac.New(sha256.New, s.Secret)
		mac.Write(body)
		req.Header.Set("X-Infowork-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: %s answered %s", m.Address, resp.Status)
	}
	return nil
}

// MaxSendAttempts is how often a notification is tried before it is given up (its error stays).
const MaxSendAttempts = 8

// DispatcherOptions configure a Dispatcher.
type DispatcherOptions struct {
	Senders []Sender
	BaseURL string // e.g. https://xinxi.example.gov.cn; links are left out when empty
	Batch   int    // notifications per round; default 50
	Logger  *slog.Logger
}

// Dispatcher delivers in-app notifications to the users' channels (notification_channels) with
// the configured senders: at least once, retried with exponential backoff, claimed with SKIP
// LOCKED so several processes may run it.
type Dispatcher struct {
	db      *pgxpool.Pool
	senders map[string]Sender
	opts    DispatcherOptions
	log     *slog.Logger
}

// NewDispatcher builds a dispatcher; it needs at least one sender.
func NewDispatcher(db *pgxpool.Pool, opts DispatcherOptions) (*Dispatcher, error) {
	if len(opts.Senders) == 0 {
		return nil, errors.New("desk: dispatcher: Senders: at least one sender is required")
	}
	if opts.Batch <= 0 {
		opts.Batch = 50
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Dispatcher{db: db, senders: map[string]Sender{}, opts: opts, log: opts.Logger.With("component", "notify")}
	for _, s := range opts.Senders {
		d.senders[s.Kind()] = s
	}
	return d, nil
}

// RunOnce delivers one batch and returns how many notifications were delivered and how many failed.
func (d *Dispatcher) RunOnce(ctx context.Context) (sent, failed int, err error) {
	kinds := make([]string, 0, len(d.senders))
	for k := range d.senders {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	err = pgx.BeginFunc(ctx, d.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT n.id, u.username, n.kind, n.message, COALESCE(n.submission_id, 0), n.created_at, n.send_attempts,
				array_agg(c.kind ORDER BY c.kind), array_agg(c.address ORDER BY c.kind)
			FROM notifications n JOIN users u ON u.id = n.user_id JOIN notification_channels c ON c.user_id = n.user_id AND c.kind = ANY($1::text[])
			WHERE n.sent_at IS NULL AND n.send_after <= now() AND n.send_attempts < $2 AND u.disabled_at IS NULL
			  AND n.id IN (SELECT n2.id FROM notifications n2 WHERE n2.sent_at IS NULL AND n2.send_after <= now() AND n2.send_attempts < $2
			      AND EXISTS (SELECT 1 FROM notification_channels c2 WHERE c2.user_id = n2.user_id AND c2.kind = ANY($1::text[]))
			    ORDER BY n2.id LIMIT $3 FOR UPDATE SKIP LOCKED)
			GROUP BY n.id, u.username ORDER BY n.id`, kinds, MaxSendAttempts, d.opts.Batch)
		if err != nil {
			return err
		}
		type job struct {
			m         Message
			attempts  int
			kinds     []string
			addresses []string
		}
		jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job, error) {
			var j job
			err := r.Scan(&j.m.NotificationID, &j.m.Username, &j.m.Kind, &j.m.Text, &j.m.SubmissionID, &j.m.At, &j.attempts, &j.kinds, &j.addresses)
			return j, err
		})
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if d.opts.BaseURL != "" && j.m.SubmissionID != 0 {
				j.m.Link = strings.TrimRight(d.opts.BaseURL, "/") + "/submissions/" + strconv.FormatInt(j.m.SubmissionID, 10)
			}
			var errs []string
			for i, k := range j.kinds {
				m := j.m
				m.Address = j.addresses[i]
				if err := d.senders[k].Send(ctx, m); err != nil {
					errs = append(errs, err.Error())
				}
			}
			if len(errs) == 0 {
				sent++
				if _, err := tx.Exec(ctx, `UPDATE notifications SET sent_at = now(), send_attempts = send_attempts + 1, send_error = '' WHERE id = $1`,
					j.m.NotificationID); err != nil {
					return err
				}
				continue
			}
			failed++
			backoff := time.Duration(1<<min(j.attempts, 10)) * time.Minute
			d.log.Warn("notification not delivered", "notification_id", j.m.NotificationID, "attempt", j.attempts+1, "err", strings.Join(errs, "; "))
			if _, err := tx.Exec(ctx, `UPDATE notifications SET send_attempts = send_attempts + 1, send_error = $2,
					send_after = now() + $3::interval WHERE id = $1`,
				j.m.NotificationID, truncate(strings.Join(errs, "; "), 500), strconv.Itoa(int(backoff.Seconds()))+" seconds"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("desk: dispatch: %w", err)
	}
	return sent, failed, nil
}

// Run delivers every interval until ctx ends.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("notification dispatch failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SetChannel records where userID wants notifications of kind delivered ("" address removes it).
func SetChannel(ctx context.Context, db *pgxpool.Pool, userID int64, kind, address string) error {
	address = strings.TrimSpace(address)
	if address == "" {
		_, err := db.Exec(ctx, `DELETE FROM notification_channels WHERE user_id = $1 AND kind = $2`, userID, kind)
		return err
	}
	_, err := db.Exec(ctx, `INSERT INTO notification_channels (user_id, kind, address) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, kind) DO UPDATE SET address = EXCLUDED.address`, userID, kind, address)
	if err != nil {
		return fmt.Errorf("desk: channel: %w", err)
	}
	return nil
}
