package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"infowork/analyzers"
)

// cmdAnalyze prints how the analyzers segment text, one token per line as
// "term<TAB>start<TAB>end" (byte offsets into the original text). It needs no database and no
// module cache: the jieba dictionaries are embedded in the binary.
func cmdAnalyze(_ context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mode := fs.String("mode", "index", "index (jieba search mode, as documents are indexed) or query (precise mode, as the search box is read)")
	if err := fs.Parse(args); err != nil {
		return usageError{"analyze: " + err.Error()}
	}
	if *mode != "index" && *mode != "query" {
		return usageError{fmt.Sprintf("analyze: --mode %q: want index or query", *mode)}
	}
	text := strings.Join(fs.Args(), " ")
	if fs.NArg() == 0 {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("analyze: read standard input: %w", err)
		}
		text = strings.TrimRight(string(b), "\r\n")
	}
	if strings.TrimSpace(text) == "" {
		return usageError{"analyze: give the text as arguments or on standard input"}
	}
	an, err := analyzers.New(analyzers.Options{
		UserDict: os.Getenv("INFOWORK_USER_DICT"),
		Synonyms: os.Getenv("INFOWORK_SYNONYMS"),
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	defer an.Close()
	toks := an.Index(text)
	if *mode == "query" {
		toks = an.Query(text)
	}
	w := bufio.NewWriter(stdout)
	for _, t := range toks {
		fmt.Fprintf(w, "%s\t%d\t%d\n", t.Term, t.Start, t.End)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("analyze: write: %w", err)
	}
	return nil
}
