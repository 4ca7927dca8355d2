package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// FindBinaries returns the directory holding the PostgreSQL server binaries (initdb,
// pg_ctl, postgres). It looks, in order, at $PG_BINDIR (an explicit choice wins), the
// newest /usr/lib/postgresql/<version>/bin (Debian/Ubuntu), `pg_config --bindir`, and
// the directory of pg_ctl on PATH. The error wraps ErrNotInstalled when none has them.
func FindBinaries() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if hasServerBinaries(d) {
			return d, nil
		}
		return "", fmt.Errorf("pgserver: PG_BINDIR=%s does not contain %s: %w", d, strings.Join(serverBinaries, ", "), ErrNotInstalled)
	}
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
		for _, d := range dirs {
			if hasServerBinaries(d) {
				return d, nil
			}
		}
	}
	if out, err := runQuiet("pg_config", "--bindir"); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" && hasServerBinaries(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if d := filepath.Dir(p); hasServerBinaries(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgserver: %w", ErrNotInstalled)
}

func hasServerBinaries(dir string) bool {
	for _, b := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, b)) // #nosec G703 -- dir is a candidate PostgreSQL bin directory from config/known paths; b is a constant binary name; only stat'ed
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionOf turns /usr/lib/postgresql/15/bin (or 9.6) into a sortable number.
func versionOf(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

// findOrInstall returns the server binary directory, installing Debian's postgresql
// package first when the binaries are missing, we are root and apt-get exists.
func findOrInstall(ctx context.Context, out io.Writer, log *slog.Logger) (string, error) {
	bin, err := FindBinaries()
	if err == nil || !errors.Is(err, ErrNotInstalled) || os.Getenv("PG_BINDIR") != "" {
		return bin, err
	}
	aptGet, lerr := exec.LookPath("apt-get")
	if os.Geteuid() != 0 || lerr != nil {
		return "", err
	}
	fmt.Fprintln(out, "pgserver: PostgreSQL server binaries not found; installing Debian's postgresql package (apt-get update && apt-get install -y postgresql)")
	log.Info("installing postgresql with apt-get")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql"}} {
		cmd := exec.CommandContext(ctx, aptGet, args...) // #nosec G204 -- apt-get from a fixed lookup with constant arguments; no shell
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		var buf bytes.Buffer
		cmd.Stdout = io.MultiWriter(out, &buf)
		cmd.Stderr = cmd.Stdout
		if rerr := cmd.Run(); rerr != nil {
			return "", fmt.Errorf("pgserver: apt-get %s failed (%v): %w\n%s", strings.Join(args, " "), rerr, ErrNotInstalled, tail(buf.Bytes(), 20))
		}
	}
	return FindBinaries()
}

// sysUser is the unprivileged account that runs the server when we are root.
type sysUser struct {
	name     string
	uid, gid int
	groups   map[int]bool
}

// runner runs PostgreSQL tools, switching to the postgres user when we are root
// (initdb and postgres refuse to run as root).
type runner struct {
	asUser  *sysUser // nil: run as ourselves
	runuser string   // path of runuser; empty: use su
}

const serviceUser = "postgres"

func newRunner(ctx context.Context, out io.Writer, log *slog.Logger) (*runner, error) {
	if os.Geteuid() != 0 {
		return &runner{}, nil
	}
	u, err := user.Lookup(serviceUser)
	if err != nil {
		fmt.Fprintf(out, "pgserver: running as root; creating system user %q to own the cluster\n", serviceUser)
		log.Info("creating system user", "user", serviceUser)
		cmd := exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/var/lib/postgresql", "--shell", "/bin/sh", serviceUser)
		if b, cerr := cmd.CombinedOutput(); cerr != nil {
			return nil, fmt.Errorf("pgserver: running as root, and creating user %q failed: %v: %s", serviceUser, cerr, bytes.TrimSpace(b))
		}
		if u, err = user.Lookup(serviceUser); err != nil {
			return nil, fmt.Errorf("pgserver: look up user %q: %w", serviceUser, err)
		}
	}
	su := &sysUser{name: u.Username, groups: map[int]bool{}}
	if su.uid, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("pgserver: user %q has uid %q: %w", serviceUser, u.Uid, err)
	}
	if su.gid, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("pgserver: user %q has gid %q: %w", serviceUser, u.Gid, err)
	}
	su.groups[su.gid] = true
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.Atoi(g); err == nil {
				su.groups[n] = true
			}
		}
	}
	r := &runner{asUser: su}
	if p, err := exec.LookPath("runuser"); err == nil {
		r.runuser = p
	} else if _, err := exec.LookPath("su"); err != nil {
		return nil, fmt.Errorf("pgserver: running as root needs runuser or su to start PostgreSQL as user %q; neither is on PATH", serviceUser)
	}
	return r, nil
}

// run executes name with args in dir and returns its combined output.
func (r *runner) run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	switch {
	case r.asUser == nil:
		cmd = exec.CommandContext(ctx, name, args...) // #nosec G204 -- PostgreSQL server binary and arguments built by pgserver itself; no shell
	case r.runuser != "":
		cmd = exec.CommandContext(ctx, r.runuser, append([]string{"-u", r.asUser.name, "--", name}, args...)...) // #nosec G204 -- runuser with a fixed user and pgserver's own command; no shell
	default:
		script := "exec " + shellQuote(name)
		for _, a := range args {
			script += " " + shellQuote(a)
		}
		cmd = exec.CommandContext(ctx, "su", r.asUser.name, "-s", "/bin/sh", "-c", script) // #nosec G204 -- every word of script goes through shellQuote
	}
	cmd.Dir = dir
	cmd.Stdin = nil
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	// pg_ctl start leaves a daemon behind; never wait on inherited pipes for long.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return buf.Bytes(), err
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func runQuiet(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).Output() // #nosec G204 -- callers pass constant tool names (pg_config, id, ...); no shell
}

// chownTree gives dir to uid:gid. The data directory is walked only when its top is
// owned by someone else (for example a cluster first made by a non-root user).
func chownTree(dir string, uid, gid int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if err := chownIfNeeded(dir, uid, gid); err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.Name() == dataSubdir || e.Name() == dataSubdir+".init" {
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
				continue
			}
			if err := filepath.WalkDir(p, func(path string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				return chownIfNeeded(path, uid, gid)
			}); err != nil {
				return err
			}
			continue
		}
		if err := chownIfNeeded(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

func chownIfNeeded(path string, uid, gid int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	return os.Lchown(path, uid, gid)
}

// ensureSearchable makes every ancestor of dir searchable (x) by u, adding o+x where it
// is missing (u+x or g+x when the user owns it or is in its group), and returns the directories it changed. Only the search bit is added:
// directory listings stay private.
func ensureSearchable(dir string, u *sysUser) ([]string, error) {
	var changed []string
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return changed, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return changed, nil
		}
		mode := fi.Mode()
		var bit os.FileMode
		switch {
		case int(st.Uid) == u.uid:
			bit = 0o100
		case u.groups[int(st.Gid)]:
			bit = 0o010
		default:
			bit = 0o001
		}
		if mode&bit == 0 {
			if err := os.Chmod(p, mode.Perm()|bit|(mode&(os.ModeSticky|os.ModeSetgid|os.ModeSetuid))); err != nil {
				return changed, err
			}
			changed = append(changed, p)
		}
		if p == filepath.Dir(p) {
			return changed, nil
		}
	}
}
