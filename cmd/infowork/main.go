// Command infowork is the single binary of the information work management system: the web
// app, the indexer, migrations and administration commands. main only loads configuration, builds
// the pieces and runs them; the logic lives in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `infowork — 信息工作管理系统

Usage: infowork <command> [flags]

Commands:
  serve      web app and indexer in one process (required for the embedded engine)
             --demo loads the demo data first when the database has none
             --notify=false stops its in-process notification delivery (--notify-interval 30s)
  web        web app only (external search engines)
  indexer    outbox indexer only (external search engines)
  migrate    apply database migrations
  demo       load demo data  [--corpus DIR] [--limit N]
  unit create --code CODE --name NAME [--kind direct|bureau|district|office] [--parent CODE] [--district NAME]
  user create --username U --password P --role ROLE[,ROLE] [--unit CODE] [--clearance LEVEL] [--name NAME]
             [--no-must-change-password]  (by default the password must be changed at first login)
  reindex    rebuild the search index from the database into a new index and swap it in
             [--batch N] [--margin DUR] [--drop-old] [--abort] [--queue-only]
             (embedded engine: with 'infowork serve' stopped; resumable: rerun to continue)
  reconcile  compare (id, version) between the database and the index and repair [--dry-run]
  audit verify   verify the audit log's hash chain
  outbox replay  return dead-letter outbox rows to the queue
  notes import [--mapping FILE] [--report FILE.json] PATH…  import Lotus Notes DXL exports, verify, report
  notes sync [--das URL --db PATH] [--drop DIR] [--interval 1m] [--reconcile 1h] [--once] [--metrics-addr ADDR]
             live sync during the cut-over (DAS credentials: INFOWORK_NOTES_DAS_USERNAME/_PASSWORD)
  notes mapping  print the default mapping file (edit it and pass --mapping)
  notes verify [--mapping FILE] [--report FILE.json]  check every imported document again (cut-over)
  notes original UNID | notes review | notes resolve ID|UNID   kept original (audited); conflicts to review
  analyze [--mode index|query] TEXT…  print the tokens of TEXT (or standard input) as term, start, end
  bench      performance harness: generated corpus, load/freshness/search/HTTP/memory vs PG FTS
             and OpenSearch; appends to BENCHMARKS.md [--docs N] [--opensearch URL] [--profile DIR]
  extract --type MIME FILE  extract the text of one file (the child process the server starts
             with resource limits; prints JSON)
  notify [--once] [--interval 30s]  deliver notifications to users' e-mail/webhook/SMS channels
             (INFOWORK_SMTP_ADDR, _FROM, _USERNAME, _PASSWORD; INFOWORK_NOTIFY_WEBHOOK_SECRET; INFOWORK_BASE_URL)
  notify channel --username U --kind email|webhook|sms --address A  set (empty: remove) a user's channel
  solicitations refresh  record late and missing answers to solicitations (约稿) for scoring (run from cron)
  version

Configuration (environment): INFOWORK_DATABASE_URL, INFOWORK_HTTP_ADDR (127.0.0.1:8080),
INFOWORK_DATA_DIR (.data), INFOWORK_SEARCH_ENGINE (embedded), INFOWORK_SEARCH_URLS,
INFOWORK_SEARCH_USERNAME, INFOWORK_SEARCH_PASSWORD, INFOWORK_SEARCH_INDEX_PREFIX,
INFOWORK_SEARCH_CA_CERT (PEM file), INFOWORK_SEARCH_REPLICAS (0: auto 0-1),
INFOWORK_USER_DICT, INFOWORK_SYNONYMS, INFOWORK_TRUSTED_PROXIES, INFOWORK_COOKIE_SECURE, INFOWORK_LOG_LEVEL.
Accounts: INFOWORK_PASSWORD_MIN_LENGTH (10), INFOWORK_PASSWORD_CLASSES (0; 等保: 3),
INFOWORK_PASSWORD_MAX_AGE_DAYS (0; 等保: 90), INFOWORK_PASSWORD_HISTORY (5),
INFOWORK_SESSION_IDLE (30m), INFOWORK_SESSION_MAX (12h), INFOWORK_SECRET_KEY (32 bytes, base64;
unset: generated into <data dir>/secret.key), INFOWORK_RATE_LOGIN_PER_IP (30/min),
INFOWORK_RATE_LOGIN_PER_USER (10/min), INFOWORK_RATE_PER_SESSION (600/min).
Uploads: INFOWORK_UPLOAD_MAX_BYTES (1048576; files are kept under <data dir>/blobs).
Without INFOWORK_DATABASE_URL a private PostgreSQL cluster is started under the data directory.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "infowork: %v\n\n%s", err, usage)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "infowork: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, true, true)
	case "web":
		return cmdServe(ctx, rest, true, false)
	case "indexer":
		return cmdServe(ctx, rest, false, true)
	case "migrate":
		return cmdMigrate(ctx, rest)
	case "demo":
		return cmdDemo(ctx, rest)
	case "unit":
		if len(rest) == 0 || rest[0] != "create" {
			return usageError{"unit: want 'unit create'"}
		}
		return cmdUnitCreate(ctx, rest[1:])
	case "user":
		if len(rest) == 0 || rest[0] != "create" {
			return usageError{"user: want 'user create'"}
		}
		return cmdUserCreate(ctx, rest[1:])
	case "reindex":
		return cmdReindex(ctx, rest)
	case "reconcile":
		return cmdReconcile(ctx, rest)
	case "bench":
		return cmdBench(ctx, rest)
	case "notes":
		return cmdNotes(ctx, rest)
	case "analyze":
		return cmdAnalyze(ctx, rest, os.Stdin, os.Stdout)
	case "audit":
		if len(rest) == 0 || rest[0] != "verify" {
			return usageError{"audit: want 'audit verify'"}
		}
		return cmdAuditVerify(ctx, rest[1:])
	case "outbox":
		if len(rest) == 0 || rest[0] != "replay" {
			return usageError{"outbox: want 'outbox replay'"}
		}
		return cmdOutboxReplay(ctx, rest[1:])
	case "extract":
		return cmdExtract(rest)
	case "notify":
		return cmdNotify(ctx, rest)
	case "solicitations":
		return cmdSolicitations(ctx, rest)
	case "version":
		fmt.Println("infowork", version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

var version = "dev"
