package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Table is one scenario's result: printed aligned to the terminal and as Markdown to the report.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
	Notes  []string
}

func (t *Table) add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Text renders the table for a terminal.
func (t *Table) Text(w io.Writer) {
	width := make([]int, len(t.Header))
	for i, h := range t.Header {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			if i < len(width) {
				width[i] = max(width[i], utf8.RuneCountInString(c))
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintf(w, "\n== %s ==\n", t.Title)
	line(t.Header)
	for _, r := range t.Rows {
		line(r)
	}
	for _, n := range t.Notes {
		fmt.Fprintln(w, "  "+n)
	}
}

// Markdown renders the table as a Markdown section.
func (t *Table) Markdown(w io.Writer) {
	fmt.Fprintf(w, "\n### %s\n\n", t.Title)
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(t.Header, " | "), strings.Repeat("---|", len(t.Header)))
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	if len(t.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range t.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

// Machine describes the machine a run happened on.
func Machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close() // read-only /proc file; nothing to lose
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				var kb int64
				if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%d", &kb); err == nil {
					mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
				}
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			load = ", load average " + strings.Join(f[:3], " ") + " at start"
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs%s, %s/%s, %s%s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version(), load)
}

// StartReport appends the head of a run to the Markdown file at path (BENCHMARKS.md): a "## Search
// and indexing: run of …" section with the date, command, machine and notes. The tables follow one by one as the
// scenarios finish (AppendTable), so a run stopped early still leaves what it measured. Other
// sections of the file are untouched.
func StartReport(path, command, machine string, started time.Time, notes []string) error {
	return appendFile(path, func(w io.Writer) {
		fmt.Fprintf(w, "\n## Search and indexing: run of %s (infowork bench)\n\n", started.UTC().Format("2006-01-02 15:04 UTC"))
		fmt.Fprintf(w, "- command: `%s`\n- machine: %s\n", command, machine)
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	})
}

// AppendTable appends one table to the report.
func AppendTable(path string, t *Table) error { return appendFile(path, t.Markdown) }

// EndReport appends how the run ended.
func EndReport(path string, started time.Time, runErr error) error {
	return appendFile(path, func(w io.Writer) {
		if runErr != nil {
			fmt.Fprintf(w, "\nThe run stopped after %s: %v\n", time.Since(started).Round(time.Second), runErr)
			return
		}
		fmt.Fprintf(w, "\nThe run took %s.\n", time.Since(started).Round(time.Second))
	})
}

func appendFile(path string, fn func(io.Writer)) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644) // #nosec G302 G304 -- a report in the repository, path from the operator
	if err != nil {
		return fmt.Errorf("bench: report: %w", err)
	}
	w := bufio.NewWriter(f)
	fn(w)
	if err := w.Flush(); err != nil {
		_ = f.Close() // the flush error is the one that matters
		return fmt.Errorf("bench: report: %w", err)
	}
	return f.Close()
}

// Percentiles of a latency sample (nearest rank).
type Percentiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) time.Duration {
		k := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(k, 0), len(s)-1)]
	}
	return Percentiles{N: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1]}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func ratio(a, b float64) string {
	if b == 0 || a == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}
