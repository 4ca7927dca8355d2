// Package browsertest runs real headless Chromium (Debian's /usr/bin/chromium) for browser tests
// through chromedp v0.23 (generic API: an action is chromedp.Action[T]; chromedp.Do runs steps
// that return nothing, chromedp.Run one action that returns a value). The whole API:
//
//	b := browsertest.Start(t, 2*time.Minute) // fresh browser and profile, closed at cleanup
//	b.Login(baseURL, "editor1", password)     // through the /login form, as a person would
//	b.Do(chromedp.Navigate(baseURL+"/submissions/new"),
//		chromedp.SendKeys(chromedp.CSS(`input[name=title]`), "标题"),
//		chromedp.Click(chromedp.CSS(`button[type=submit]`)))
//	err := b.Try(chromedp.WaitVisible(chromedp.CSS(`.error`))) // Do without failing the test
//	n := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll("tr").length`))
//	b.Text(`.flash`)                          // visible text of an element, "" if absent
//	b.Save("after-merge")                     // keep a screenshot + HTML of the page
//	b.Ctx                                     // the chromedp context, for anything else
//
// Each Do, Try and Get is bounded by b.StepTimeout (30s unless changed). Do and Get fail the
// test (t.Fatalf, with the page URL) when an action errs. Whenever the test has failed — through
// them or any other way, timeouts included — the cleanup saves a screenshot (failure.png) and
// the page HTML (failure.html) and logs their path: under t.TempDir(), or under
// $INFOWORK_BROWSERTEST_ARTIFACTS/<test name> when that variable is set (t.TempDir is removed
// when the test ends: set the variable to keep them). Uncaught JavaScript exceptions and
// console.error calls of the page are logged through t.Log as they happen.
//
// Login handles password-only accounts (it fails the test on a second-factor page). After a form
// post, wait for the page that follows (its URL or an element) before the next step: a click
// returns before the navigation it causes.
//
// Without /usr/bin/chromium (or $INFOWORK_CHROMIUM) the test is skipped with a message saying so,
// unless CI is set (CI=true): there a missing browser fails the test, because CI installs it.
// Running as root, Chromium needs --no-sandbox, which Start adds. The CJK fonts of Debian's
// fonts-wqy-microhei make screenshots of zh-CN pages legible.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is one headless Chromium with a single tab, bound to a test.
type Browser struct {
	// Ctx is the chromedp context of the tab; it ends at the timeout given to Start.
	Ctx context.Context
	// StepTimeout bounds each Do, Try and Get (default 30s), so that a step waiting for
	// something that never appears fails on its own, with its page saved, instead of using up
	// the whole test's time.
	StepTimeout time.Duration
	t           testing.TB
	dir         string          // where artifacts go
	tab         context.Context // the tab without the test's deadline, for the failure artifacts
}

// ChromiumPath is where the browser is looked for: $INFOWORK_CHROMIUM when set (and only there),
// else /usr/bin/chromium, else chromium or chromium-browser on PATH. It returns "" when there is
// no browser.
func ChromiumPath() string {
	if p := os.Getenv("INFOWORK_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil { // #nosec G703 -- test-only: the developer's own INFOWORK_CHROMIUM
			return ""
		}
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, n := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "0" && v != "false"
}

// Start launches the browser and returns it with a context that ends after timeout. The browser
// is closed at cleanup, after failure artifacts are saved.
func Start(t testing.TB, timeout time.Duration) *Browser {
	t.Helper()
	path := ChromiumPath()
	if path == "" {
		if inCI() {
			t.Fatal("browsertest: chromium not found (/usr/bin/chromium or $INFOWORK_CHROMIUM) and CI is set: install chromium")
		}
		t.Skip("browsertest: chromium is not installed (apt-get install chromium fonts-wqy-microhei); browser test skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// The first Do starts the browser; it must run on a context without a deadline, or the
	// deadline would stop the browser itself (see chromedp.Run).
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("browsertest: start %s: %v", path, err)
	}
	ctx, cancelTimeout := context.WithTimeout(bctx, timeout)
	b := &Browser{Ctx: ctx, StepTimeout: 30 * time.Second, t: t, dir: artifactDir(t), tab: bctx}

	var logging sync.WaitGroup
	logging.Add(1)
	go func() {
		defer logging.Done()
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleException, chromedp.ConsoleError:
				t.Logf("browsertest: page %s: %s", m.Type, m.Text)
			}
		}
	}()
	t.Cleanup(func() {
		cancelTimeout()
		logging.Wait() // no t.Log after the test has ended
		cancelBrowser()
		cancelAlloc()
	})
	// Registered after the browser's cleanup, so it runs first (cleanups run last in, first out).
	t.Cleanup(func() {
		if t.Failed() {
			b.saveArtifacts("failure")
		}
	})
	return b
}

func (b *Browser) step() (context.Context, context.CancelFunc) {
	if b.StepTimeout <= 0 {
		return context.WithCancel(b.Ctx)
	}
	return context.WithTimeout(b.Ctx, b.StepTimeout)
}

// Try runs the steps and returns their error without failing the test.
func (b *Browser) Try(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := b.step()
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// Do runs the steps; an error fails the test, with the page's URL in the message.
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browsertest: %v (page %s)", err, b.location())
	}
}

// Get runs one action that returns a value (Evaluate, Text, Value, Location …) and returns the
// value; an error fails the test.
func Get[T any](b *Browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browsertest: %v (page %s)", err, b.location())
	}
	return v
}

func (b *Browser) location() string {
	ctx, cancel := context.WithTimeout(b.tab, 3*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown"
	}
	return u
}

// Text returns the visible text of the first element matching the CSS selector, or "" when
// there is none; it does not wait.
func (b *Browser) Text(css string) string {
	ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(function(){var e=document.querySelector(%q);return e?e.innerText:""})()`, css)))
	if err != nil {
		return ""
	}
	return s
}

// Login signs username in through the /login form of the web app at base and waits until the
// browser has left the login page. It fails the test when the credentials are refused (quoting
// the page's message) or when the account needs a second factor.
func (b *Browser) Login(base, username, password string) {
	b.t.Helper()
	base = strings.TrimRight(base, "/")
	b.Do(
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=username]`), username),
		chromedp.SetValue(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
	)
	deadline := time.Now().Add(20 * time.Second)
	for {
		u := b.location()
		path := strings.SplitN(u, "?", 2)[0]
		switch {
		case strings.HasSuffix(path, "/login/mfa"):
			b.t.Fatalf("browsertest: %s needs a second factor; Login handles password-only accounts", username)
		case u != "unknown" && !strings.HasSuffix(path, "/login"):
			if ready, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.readyState`)); err == nil && ready == "complete" {
				return
			}
		default:
			if msg := strings.TrimSpace(b.Text(`.error, [role=alert]`)); msg != "" {
				b.t.Fatalf("browsertest: login %s refused: %s", username, msg)
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browsertest: login %s: still on %s after 20s", username, u)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Save writes a screenshot (<name>.png) and the page HTML (<name>.html) to the artifact
// directory and logs where they are. The failure cleanup calls it with "failure".
func (b *Browser) Save(name string) {
	b.t.Helper()
	b.saveArtifacts(name)
}

func (b *Browser) saveArtifacts(name string) {
	// The tab's context, not the test's: after a timeout the page is still there to be saved.
	if b.tab.Err() != nil {
		b.t.Logf("browsertest: browser gone (%v): no screenshot of the page", b.tab.Err())
		return
	}
	ctx, cancel := context.WithTimeout(b.tab, 15*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Location())
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("browsertest: screenshot: %v", err)
	}
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		b.t.Logf("browsertest: page HTML: %v", err)
	}
	base := filepath.Join(b.dir, unsafeName.ReplaceAllString(name, "_"))
	if len(png) > 0 {
		if err := os.WriteFile(base+".png", png, 0o600); err != nil {
			b.t.Logf("browsertest: %v", err)
		}
	}
	if html != "" {
		if err := os.WriteFile(base+".html", []byte(html), 0o600); err != nil {
			b.t.Logf("browsertest: %v", err)
		}
	}
	b.t.Logf("browsertest: page %s saved as %s.png and %s.html", u, base, base)
}

func artifactDir(t testing.TB) string {
	if root := os.Getenv("INFOWORK_BROWSERTEST_ARTIFACTS"); root != "" {
		d := filepath.Join(root, unsafeName.ReplaceAllString(t.Name(), "_"))
		if err := os.MkdirAll(d, 0o750); err == nil { // #nosec G703 -- test-only: the developer's INFOWORK_BROWSERTEST_ARTIFACTS; the test name is sanitised
			return d
		}
	}
	return t.TempDir()
}
