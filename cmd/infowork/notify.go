package main

// infowork notify: deliver in-app notifications to users' e-mail and webhook channels (package
// desk), and set a user's channel. Several processes may run it: rows are claimed with SKIP
// LOCKED.

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"time"

	"infowork/desk"
)

func cmdNotify(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "channel" {
		return cmdNotifyChannel(ctx, args[1:])
	}
	fs := flag.NewFlagSet("notify", flag.ContinueOnError)
	once := fs.Bool("once", false, "deliver one batch and exit")
	interval := fs.Duration("interval", 30*time.Second, "time between delivery rounds")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	senders, err := notifySenders()
	if err != nil {
		return err
	}
	_, db, log, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	d, err := desk.NewDispatcher(db, desk.DispatcherOptions{Senders: senders, BaseURL: os.Getenv("INFOWORK_BASE_URL"), Logger: log})
	if err != nil {
		return err
	}
	if *once {
		sent, failed, err := d.RunOnce(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("notifications delivered: %d, failed (to be retried): %d\n", sent, failed)
		return nil
	}
	log.Info("notification delivery running", "interval", interval.String(), "senders", len(senders))
	d.Run(ctx, *interval)
	return nil
}

func cmdNotifyChannel(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("notify channel", flag.ContinueOnError)
	username := fs.String("username", "", "account")
	kind := fs.String("kind", "email", "email, webhook or sms")
	address := fs.String("address", "", "e-mail address or URL; empty removes the channel")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *username == "" {
		return usageError{"notify channel: --username is required"}
	}
	if *kind != "email" && *kind != "webhook" && *kind != "sms" {
		return usageError{"notify channel: --kind must be email, webhook or sms"}
	}
	_, db, _, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	var id int64
	if err := db.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, *username).Scan(&id); err != nil {
		return fmt.Errorf("no account %q", *username)
	}
	return desk.SetChannel(ctx, db, id, *kind, *address)
}

// notifySenders builds the senders from the environment: e-mail when INFOWORK_SMTP_ADDR is set,
// and always the webhook and SMS-gateway senders (they post only to channels an operator set,
// signed with INFOWORK_NOTIFY_WEBHOOK_SECRET). Used by 'infowork notify' and by the dispatcher
// that 'infowork serve' runs in-process.
func notifySenders() ([]desk.Sender, error) {
	var senders []desk.Sender
	if addr := os.Getenv("INFOWORK_SMTP_ADDR"); addr != "" {
		from := os.Getenv("INFOWORK_SMTP_FROM")
		if from == "" {
			return nil, errors.New("INFOWORK_SMTP_FROM is required with INFOWORK_SMTP_ADDR")
		}
		s := &desk.SMTPSender{Addr: addr, From: from}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("INFOWORK_SMTP_ADDR %q: %w", addr, err)
		}
		s.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if u := os.Getenv("INFOWORK_SMTP_USERNAME"); u != "" {
			s.Auth = smtp.PlainAuth("", u, os.Getenv("INFOWORK_SMTP_PASSWORD"), host)
		}
		senders = append(senders, s)
	}
	secret := []byte(os.Getenv("INFOWORK_NOTIFY_WEBHOOK_SECRET"))
	senders = append(senders, &desk.WebhookSender{Secret: secret}, &desk.WebhookSender{Secret: secret, ChannelKind: "sms"})
	return senders, nil
}
