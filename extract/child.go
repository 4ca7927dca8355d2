package extract

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ChildEnv marks a process started by Runner; MaybeChild looks for it.
const ChildEnv = "INFOWORK_EXTRACT_CHILD"

// answer is the child's JSON on standard output in extract mode.
type answer struct {
	OK     bool    `json:"ok"`
	Result *Result `json:"result,omitempty"`
	Kind   string  `json:"kind,omitempty"` // "unreadable" | "limit" | "error"
	Reason string  `json:"reason,omitempty"`
}

// MaybeChild runs the child and exits when this process was started by Runner from a test
// binary (the infowork binary dispatches the extract subcommand itself). Call it from an
// init function of a test file in every package whose tests use Runner.
func MaybeChild() {
	if os.Getenv(ChildEnv) != "1" || len(os.Args) < 2 || os.Args[1] != "extract" {
		return
	}
	os.Exit(Child(os.Args[2:], os.Stdout, os.Stderr))
}

// Child is the `infowork extract` subcommand: it limits its own resources, reads one file and
// writes the result to stdout — JSON in extract mode, a PNG with --render. Exit status 0 even
// when the file is unreadable (the JSON says why); 2 for bad arguments.
//
//	infowork extract --type MIME [--mem BYTES] [--cpu SECONDS] FILE
//	infowork extract --render --type MIME --page N --width W FILE
func Child(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("extract", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mime := fs.String("type", "", "detected MIME type of FILE")
	render := fs.Bool("render", false, "write page --page of FILE as a PNG instead of extracting text")
	page := fs.Int("page", 1, "page to render (1-based)")
	width := fs.Int("width", 800, "width of the rendered page in pixels")
	mem := fs.Int64("mem", 2<<30, "memory limit in bytes: RLIMIT_AS of every tool, RLIMIT_DATA of this process")
	cpu := fs.Uint64("cpu", 120, "CPU-time limit in seconds (RLIMIT_CPU)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || *mime == "" {
		fmt.Fprintln(stderr, "usage: infowork extract --type MIME [--render --page N --width W] FILE")
		return 2
	}
	*mem = max(*mem, 64<<20)
	if err := limitSelf(uint64(*mem), *cpu); err != nil { // #nosec G115 -- clamped positive
		fmt.Fprintln(stderr, "extract: set limits:", err)
		return 1
	}
	toolMemory = *mem
	// The Go heap stays well inside the data limit; the tools have their own.
	debug.SetMemoryLimit(*mem / 4)
	_ = os.Setenv("OMP_THREAD_LIMIT", "1")
	path := fs.Arg(0)
	ctx := context.Background()
	if *render {
		b, err := Render(ctx, path, *mime, *page, *width)
		if err != nil {
			fmt.Fprintln(stderr, Reason(err))
			if errors.Is(err, ErrUnreadable) {
				return 3
			}
			return 1
		}
		_, _ = stdout.Write(b)
		return 0
	}
	r, err := File(ctx, path, *mime, Limits{})
	a := answer{OK: err == nil}
	switch {
	case err == nil:
		a.Result = &r
	case errors.Is(err, ErrUnreadable):
		a.Kind, a.Reason = "unreadable", Reason(err)
	case errors.Is(err, ErrLimit):
		a.Kind, a.Reason = "limit", Reason(err)
	default:
		a.Kind, a.Reason = "error", err.Error()
	}
	if err := json.NewEncoder(stdout).Encode(a); err != nil {
		return 1
	}
	return 0
}

// minSelfData is the least RLIMIT_DATA the child gives itself, whatever --mem says: the Go
// runtime's thread stacks and heap need a few tens of MiB before any file is read, and a smaller
// --mem (tests use 64 MiB) is meant for the tools, not for the child's own runtime.
const minSelfData = 512 << 20

// toolMemory is the address-space limit (bytes) run puts on every tool this child starts; 0
// (extraction in the calling process, as in tests of File) leaves the tools unlimited.
var toolMemory int64

// limitSelf sets the limits every program this process starts inherits, and this process's
// own memory limit.
//
// The memory limit of this Go process is RLIMIT_DATA, not RLIMIT_AS: the Go runtime reserves
// address space it never touches (heap arenas, and in a -race build the race detector's shadow
// memory), so an address-space limit made the child itself die now and then ("fatal error:
// runtime: cannot allocate memory") before it read a byte of the file, and that was then
// reported as the file exceeding the memory limit. RLIMIT_DATA counts only writable memory in
// use, and is at least minSelfData. A -race build sets no memory limit on itself at all (the shadow memory is writable and
// proportional to the heap). The tools, where hostile input really can blow up (poppler,
// Tesseract), get RLIMIT_AS = mem of their own through prlimit (see run).
func limitSelf(mem, cpu uint64) error {
	limits := []struct {
		res int
		v   uint64
	}{
		{syscall.RLIMIT_CPU, cpu},
		{syscall.RLIMIT_FSIZE, 512 << 20},
		{syscall.RLIMIT_NOFILE, 256},
		{syscall.RLIMIT_CORE, 0},
	}
	if !raceBuild {
		limits = append(limits, struct {
			res int
			v   uint64
		}{unix.RLIMIT_DATA, max(mem, minSelfData)})
	}
	for _, l := range limits {
		if err := syscall.Setrlimit(l.res, &syscall.Rlimit{Cur: l.v, Max: l.v}); err != nil {
			return err
		}
	}
	return nil
}

// Render returns a PNG of one page: PDF pages through pdftoppm; images as they are converted to
// PNG scaled to width (so a preview never serves the original bytes of a hostile image).
func Render(ctx context.Context, path, mime string, page, width int) ([]byte, error) {
	if width < 16 || width > 2400 {
		return nil, unreadable("预览宽度须在 16–2400 像素之间")
	}
	dir, err := os.MkdirTemp("", "infowork-render-*")
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "page.png")
	switch mime {
	case MIMEPDF:
		n, err := PDFPages(ctx, path)
		if err != nil {
			return nil, err
		}
		if page < 1 || page > n {
			return nil, unreadable("没有第 %d 页（共 %d 页）", page, n)
		}
		if err := RenderPDFPage(ctx, path, page, width, 0, out); err != nil {
			return nil, err
		}
		return readFile(out)
	case MIMEJPEG, MIMEPNG, MIMEGIF:
		if page != 1 {
			return nil, unreadable("图片只有 1 页")
		}
		return scaleImage(path, width)
	}
	return nil, unreadable("%s 类型没有页面图像预览", mime)
}

// deadline is a helper for callers that want the remaining time as seconds for RLIMIT_CPU.
func deadline(d time.Duration) uint64 {
	s := uint64(d / time.Second) // #nosec G115 -- durations here are positive
	return max(s, 1) + 1
}
