package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Runner runs extraction and rendering in a child process with limits. The zero value is not
// usable; NewRunner applies the defaults.
type Runner struct {
	command     []string
	timeout     time.Duration
	memoryBytes int64
	maxOutput   int64
}

// RunnerOptions configure a Runner. Zero fields take defaults.
type RunnerOptions struct {
	// Command is the child's argv before its own flags; default {this executable, "extract"}.
	Command []string
	// Timeout is the wall-clock limit of one child; default 10 minutes: OCR reads a dense
	// page in about 8 s on one core of the development machine, and at most
	// Limits.MaxOCRPages (30) pages of a scanned PDF are read.
	Timeout time.Duration
	// MemoryBytes is the address-space limit (RLIMIT_AS) of every tool the child runs, and the
	// child's own RLIMIT_DATA (at least 512 MiB; none in a -race build); default 2 GiB.
	// Tesseract with the chi_sim model needs some 300 MiB. See limitSelf.
	MemoryBytes int64
	// MaxOutput bounds what is read from the child's stdout; default 16 MiB.
	MaxOutput int64
}

// NewRunner builds a Runner.
func NewRunner(o RunnerOptions) (*Runner, error) {
	if len(o.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("extract: find own executable: %w", err)
		}
		o.Command = []string{exe, "extract"}
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.MemoryBytes <= 0 {
		o.MemoryBytes = 2 << 30
	}
	if o.MemoryBytes < 64<<20 {
		return nil, fmt.Errorf("extract: RunnerOptions.MemoryBytes %d is below the minimum of 64 MiB", o.MemoryBytes)
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = 16 << 20
	}
	return &Runner{command: o.Command, timeout: o.Timeout, memoryBytes: o.MemoryBytes, maxOutput: o.MaxOutput}, nil
}

// Timeout is the wall-clock limit of one child.
func (r *Runner) Timeout() time.Duration { return r.timeout }

// Extract reads the text of the file at path in a child process. Errors wrap ErrUnreadable
// (the file is at fault: encrypted, damaged, a zip bomb) or ErrLimit (time or memory ran out,
// the child died); Reason gives the zh-CN reason for both.
func (r *Runner) Extract(ctx context.Context, path, mime string) (Result, error) {
	out, err := r.run(ctx, "--type", mime, path)
	if err != nil {
		return Result{}, err
	}
	var a answer
	if err := json.Unmarshal(out, &a); err != nil {
		return Result{}, limited("提取进程的输出无法解析")
	}
	switch {
	case a.OK && a.Result != nil:
		return *a.Result, nil
	case a.Kind == "unreadable":
		return Result{}, unreadable("%s", a.Reason)
	case a.Kind == "limit":
		return Result{}, limited("%s", a.Reason)
	}
	return Result{}, fmt.Errorf("extract: child: %s", a.Reason)
}

// Render returns a PNG of one page, made in a child process.
func (r *Runner) Render(ctx context.Context, path, mime string, page, width int) ([]byte, error) {
	return r.run(ctx, "--render", "--type", mime, "--page", strconv.Itoa(page), "--width", strconv.Itoa(width), path)
}

// run starts the child in a new process group, kills the group at the timeout or when ctx
// ends, and returns its stdout.
func (r *Runner) run(ctx context.Context, args ...string) ([]byte, error) {
	argv := append(append([]string{}, r.command[1:]...),
		"--mem", strconv.FormatInt(r.memoryBytes, 10), "--cpu", strconv.FormatUint(deadline(r.timeout), 10))
	argv = append(argv, args...)
	cmd := exec.Command(r.command[0], argv...) // #nosec G204 -- our own executable and flags; the file is a blob path
	cmd.Env = append(os.Environ(), ChildEnv+"=1", "OMP_THREAD_LIMIT=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout := &capped{max: r.maxOutput}
	var stderr capped
	stderr.max = 8 << 10
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("extract: start child: %w", err)
	}
	pgid := cmd.Process.Pid
	var (
		mu     sync.Mutex
		reason string
	)
	kill := func(why string) {
		mu.Lock()
		if reason == "" {
			reason = why
		}
		mu.Unlock()
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	timer := time.AfterFunc(r.timeout, func() { kill(fmt.Sprintf("处理超时（超过 %s）", r.timeout)) })
	stop := context.AfterFunc(ctx, func() { kill("处理被取消") })
	// Wait for the child to exit without reaping it: while its zombie holds the pid, the
	// process group id cannot be reused by another process, so killing the group here reaches
	// only what this child started (a tool it left running) — never a stranger's group.
	var si unix.Siginfo
	for {
		if werr := unix.Waitid(unix.P_PID, pgid, &si, unix.WEXITED|unix.WNOWAIT, nil); werr != unix.EINTR {
			break
		}
	}
	timer.Stop() // both before the reap: a late kill must not reach a reused group id
	stop()
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	err := cmd.Wait()
	mu.Lock()
	why := reason
	mu.Unlock()
	if why != "" {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("extract: %w", ctx.Err())
		}
		return nil, limited("%s", why)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg := strings.TrimSpace(stderr.buf.String())
			if ee.ExitCode() == 3 { // render: the file is at fault
				return nil, unreadable("%s", clipRunes(msg, 200))
			}
			if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
				return nil, limited("处理进程被终止（%s，可能超出内存或 CPU 限制）", st.Signal())
			}
			if strings.Contains(msg, "out of memory") || strings.Contains(msg, "cannot allocate memory") ||
				strings.Contains(msg, "failed to map segment") || strings.Contains(msg, "超出内存限制") {
				return nil, limited("处理进程超出内存限制（%d MB）", r.memoryBytes>>20)
			}
			return nil, limited("处理进程异常退出（状态 %d）：%s", ee.ExitCode(), clipRunes(msg, 200))
		}
		return nil, fmt.Errorf("extract: child: %w", err)
	}
	if stdout.over {
		return nil, limited("提取结果过大（超过 %d MB）", r.maxOutput>>20)
	}
	return stdout.buf.Bytes(), nil
}

// capped is a writer that keeps at most max bytes and reports an overflow once.
type capped struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	max  int64
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return len(p), nil
	}
	if room := c.max - int64(c.buf.Len()); int64(len(p)) > room {
		c.over = true
		c.buf.Write(p[:room]) // keep the start (a stderr message), mark the rest lost
		return len(p), nil
	}
	return c.buf.Write(p)
}
