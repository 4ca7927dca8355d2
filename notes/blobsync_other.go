//go:build !linux

package notes

import "errors"

// syncFS is not available: the caller falls back to fsync per file.
func syncFS(string) error { return errors.ErrUnsupported }
