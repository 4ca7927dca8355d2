package webapp_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"infowork/internal/browsertest"
)

// TestDashboardBrowser drives headless Chromium through the dashboards: ECharts (served from
// /static/vendor) draws every chart, and the numbers in the tables beside the charts are the
// database's, for the editor and for a reporting unit.
func TestDashboardBrowser(t *testing.T) {
	s, _ := statsFixture(t)
	year := time.Now().Year()
	rules := map[string]any{"rules": map[string]any{"adoption_levels": map[string]int{"city": 10}, "merged_factor": 0.5,
		"quota": map[string]int{"per_month": 8}}}
	if r := s.api(t, "PUT", fmt.Sprintf("/api/v1/scoring/rules?year=%d", year), s.token(t, "sys1"), rules); r.Status != 200 {
		t.Fatal(r)
	}
	var adopted, waiting int
	if err := s.DB.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE state = 'adopted'), count(*) FILTER (WHERE state IN ('submitted', 'in_review')) FROM submissions`).
		Scan(&adopted, &waiting); err != nil {
		t.Fatal(err)
	}

	b := browsertest.Start(t, 2*time.Minute)
	b.Login(s.Base, "editor1", password)
	b.Do(chromedp.Navigate(s.Base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`.dash-editor figure .chart-canvas canvas`)))
	if got := b.Text(`.dash-editor tr[data-state="adopted"] td`); got != fmt.Sprint(adopted) {
		t.Errorf("editor's table: adopted %q, database %d", got, adopted)
	}
	fresh := browsertest.Get(b, chromedp.Evaluate[int](`+document.querySelectorAll('.dash-editor .kpis dd')[0].textContent`))
	if fresh != waiting {
		t.Errorf("queue under a day %d, database %d waiting", fresh, waiting)
	}
	charts := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll('figure[data-chart]').length`))
	drawn := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll('figure[data-chart][data-drawn]').length`))
	if charts < 2 || drawn != charts {
		t.Errorf("%d of %d charts drawn", drawn, charts)
	}
	if got := b.Text(`.dash-office table.league tbody tr`); !strings.Contains(got, "芙蓉区东湖街道直报点") || !strings.Contains(got, "15") {
		t.Errorf("league table first row %q (Z101: 10 + 5)", got)
	}

	// Statistics page: the bar chart is drawn and the adopted count drills down to the search
	// filtered by 办理状态 = 采用 (issues 5, 7), which finds that many records.
	b.Do(chromedp.Navigate(s.Base+"/statistics"), chromedp.WaitVisible(chromedp.CSS(`figure[data-chart] canvas`)))
	total := `.results .summary strong`
	b.Do(chromedp.Click(chromedp.CSS(`table.stats-table tbody tr:first-child td:nth-child(4) a`)), chromedp.WaitVisible(chromedp.CSS(total)))
	got := b.Text(total)
	for deadline := time.Now().Add(10 * time.Second); got != "1" && time.Now().Before(deadline); got = b.Text(total) {
		b.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(total))) // the index follows the last transitions within moments
	}
	if got != "1" {
		t.Errorf("adopted drill-down of the first unit finds %q", got)
	}
	if chips := b.Text(`.chips`); !strings.Contains(chips, "办理状态：采用") {
		t.Errorf("adopted drill-down chips %q, want 办理状态：采用", chips)
	}

	// A reporting unit: quota, rate and points of its own unit.
	b.Do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)))
	b.Login(s.Base, "rep_a", password)
	b.Do(chromedp.Navigate(s.Base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`.dash-unit figure canvas`)))
	if got := b.Text(`.kpi-quota`); got != "5 / 8" {
		t.Errorf("quota %q, want 5 / 8", got)
	}
	if got := b.Text(`.kpi-rate`); got != "40.0%" {
		t.Errorf("adoption rate %q, want 40.0%% (1 adopted + 1 merged of 5)", got)
	}
	if got := b.Text(`.kpi-points`); got != "15" {
		t.Errorf("points %q, want 15", got)
	}
	if n := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll('.dash-office, .dash-editor').length`)); n != 0 {
		t.Errorf("a reporter sees %d office panels", n)
	}
}
