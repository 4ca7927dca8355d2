// Command testpg manages the shared test cluster that internal/testpg starts on demand
// (<repo root>/.data/testpg, 127.0.0.1:55432 or $INFOWORK_TEST_PG_PORT). Run from the
// repository root:
//
//	go run ./scripts/testpg start   # start it (tests do this themselves) and print the admin DSN
//	go run ./scripts/testpg dsn     # same as start
//	go run ./scripts/testpg stop    # stop it (make clean does this)
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"infowork/pgserver"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/testpg start|dsn|stop")
		os.Exit(2)
	}
	dir, err := filepath.Abs(filepath.Join(".data", "testpg"))
	if err != nil {
		fail(err)
	}
	if _, err := os.Stat("go.mod"); err != nil {
		fail(fmt.Errorf("run it from the repository root (no go.mod in the working directory)"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	switch os.Args[1] {
	case "start", "dsn":
		port := 55432
		if p := os.Getenv("INFOWORK_TEST_PG_PORT"); p != "" {
			if port, err = strconv.Atoi(p); err != nil {
				fail(fmt.Errorf("INFOWORK_TEST_PG_PORT=%q is not a port number", p))
			}
		}
		dsn, err := pgserver.Ensure(ctx, pgserver.Options{Dir: dir, Port: port, Database: "postgres", Fast: true, Out: os.Stderr})
		if err != nil {
			fail(err)
		}
		fmt.Println(dsn)
	case "stop":
		if err := pgserver.Stop(ctx, dir); err != nil {
			fail(err)
		}
	default:
		fmt.Fprintf(os.Stderr, "testpg: unknown command %q; use start, dsn or stop\n", os.Args[1])
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "testpg:", err)
	os.Exit(1)
}
