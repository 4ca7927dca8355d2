package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"infowork/internal/browsertest"
)

// loginSite is a stand-in for the web app's login flow: /login posts to /login, a good password
// redirects to / which greets the user by the cookie, a bad one re-renders with an error.
func loginSite() *httptest.Server {
	const form = `<!doctype html><html lang="zh-CN"><body>%s<form method="post" action="/login">
<input name="username"><input name="password" type="password"><button type="submit">登录</button></form></body></html>`
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if r.FormValue("password") == "right" {
				http.SetCookie(w, &http.Cookie{Name: "u", Value: r.FormValue("username"), Path: "/"})
				http.Redirect(w, r, "/", http.StatusSeeOther)
				return
			}
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, form, `<p class="error">用户名或密码错误</p>`)
			return
		}
		fmt.Fprintf(w, form, "")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("u")
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		fmt.Fprintf(w, `<!doctype html><html><body><h1 id="hello">你好，%s</h1></body></html>`, c.Value)
	})
	return httptest.NewServer(mux)
}

func TestLoginAndRead(t *testing.T) {
	srv := loginSite()
	defer srv.Close()
	b := browsertest.Start(t, time.Minute)
	b.Login(srv.URL, "editor1", "right")
	if got := b.Text("#hello"); got != "你好，editor1" {
		t.Fatalf("greeting = %q", got)
	}
	n := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll("h1").length`))
	if n != 1 {
		t.Fatalf("h1 count = %d", n)
	}
	if b.Text("#missing") != "" {
		t.Fatal("Text of a missing element is not empty")
	}
}

func TestSaveWritesScreenshotAndHTML(t *testing.T) {
	srv := loginSite()
	defer srv.Close()
	dir := t.TempDir()
	t.Setenv("INFOWORK_BROWSERTEST_ARTIFACTS", dir)
	b := browsertest.Start(t, time.Minute)
	b.Do(chromedp.Navigate(srv.URL + "/login"))
	b.Save("login page")
	d := filepath.Join(dir, "TestSaveWritesScreenshotAndHTML")
	png, err := os.ReadFile(filepath.Join(d, "login_page.png"))
	if err != nil || len(png) < 100 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot: %v (%d bytes)", err, len(png))
	}
	html, err := os.ReadFile(filepath.Join(d, "login_page.html"))
	if err != nil || !strings.Contains(string(html), `action="/login"`) {
		t.Fatalf("html: %v %q", err, html)
	}
}

// TestMissingChromium runs this test binary again with no browser: outside CI the browser test
// is skipped with a message, in CI it fails.
func TestMissingChromium(t *testing.T) {
	if os.Getenv("BROWSERTEST_CHILD") == "1" {
		browsertest.Start(t, time.Minute)
		t.Log("browser started although none should be found")
		return
	}
	for _, tc := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "chromium is not installed"},
		{"true", true, "chromium not found"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingChromium$", "-test.v")
		cmd.Env = append(os.Environ(), "BROWSERTEST_CHILD=1", "INFOWORK_CHROMIUM=/nonexistent/chromium", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail {
			t.Errorf("CI=%q: failed=%v, want %v:\n%s", tc.ci, failed, tc.wantFail, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("CI=%q: output lacks %q:\n%s", tc.ci, tc.want, out)
		}
		if !tc.wantFail && !strings.Contains(string(out), "--- SKIP") {
			t.Errorf("CI=%q: not skipped:\n%s", tc.ci, out)
		}
	}
}
