package main

import (
	"os"

	"infowork/extract"
)

// cmdExtract is the child process of text extraction and page rendering (package extract): the
// server starts it with resource limits for one file and reads its answer from stdout. It is
// not meant to be run by hand, though it may be for debugging:
//
//	infowork extract --type application/pdf FILE
func cmdExtract(args []string) error {
	if code := extract.Child(args, os.Stdout, os.Stderr); code != 0 {
		os.Exit(code)
	}
	return nil
}
