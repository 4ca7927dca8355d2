package webapp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/auth"
	"infowork/savedsearch"
	"infowork/scoring"
	"infowork/search"
	"infowork/stats"
	"infowork/submission"
)

// Dashboards by role: the unit's (quota, returns, adoption), the editor's (queue age, items per
// state), the leader's (topic trends, endorsements and follow-up) and the office's (league
// table, heat by district and category), plus the user's saved searches as panels. Every chart
// is also a table; every number comes from the same queries as the statistics page and obeys the
// reader's access.

type dashUnit struct {
	Year                       int
	MonthSubmitted, Quota      int
	Submitted, Adopted, Merged int
	Returned                   int
	Rate                       float64
	Points                     float64
	HasRules                   bool
	ReturnedLink, AdoptedLink  string
	Chart                      chartData
}

type dashEditor struct {
	States []stateCount
	Age    [3]int
	Chart  chartData
}

type stateCount struct {
	State, Name string
	Count       int
}

type dashLeader struct {
	Trends   stats.Trends
	Chart    chartData
	FollowUp map[string]int
	Overdue  int
	Error    string
}

type dashOffice struct {
	League    []scoring.Row
	LeagueErr string
	Districts []string
	Cats      []string
	Heat      [][]int
	Chart     chartData
}

type dashSaved struct {
	savedsearch.SavedSearch
	Total int
	Hits  []search.Hit
	Link  string
	Error string
}

func isOffice(s access.Subject) bool { return s.AllUnits() }

func (a *App) dashboardPage(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := forbidAdmins(u); err != nil {
		return err
	}
	ctx := c.UserContext()
	sub := u.Subject()
	now := time.Now().In(search.Location)
	// The year shown is the newest year with records the reader may see: this year on live
	// data, the last year of a historical corpus such as the demo's.
	y, err := a.stats.stats.LatestYear(ctx, sub, now)
	if err != nil {
		return err
	}
	yearStart := time.Date(y, 1, 1, 0, 0, 0, 0, search.Location)
	year := stats.Filter{From: yearStart, To: yearStart.AddDate(1, 0, 0)}
	data := fiber.Map{"Now": now, "Year": y}
	if err := a.syncScores(ctx, false); err != nil {
		a.log.Warn("scoring sync failed", "err", err)
	}

	if sub.CanSubmit() && !sub.AllUnits() {
		du, err := a.dashUnit(ctx, sub, now, y, year)
		if err != nil {
			return err
		}
		data["Unit"] = du
	}
	if sub.Has(access.RoleEditor) || sub.Has(access.RoleSigner) {
		counts, age, err := a.stats.stats.StateCounts(ctx, sub, now)
		if err != nil {
			return err
		}
		de := dashEditor{Age: age, Chart: chartData{Kind: "bar", Title: "各状态信息数", Series: []string{"信息数"}}}
		for _, st := range []string{"submitted", "in_review", "returned", "adopted", "merged", "filed", "unit_approval", "draft"} {
			de.States = append(de.States, stateCount{st, submission.StateName(st), counts[st]})
			de.Chart.Labels = append(de.Chart.Labels, submission.StateName(st))
			de.Chart.Values = append(de.Chart.Values, []float64{float64(counts[st])})
		}
		data["Editor"] = de
	}
	if sub.Has(access.RoleLeader) || sub.Has(access.RoleResearcher) || sub.Has(access.RoleSigner) {
		dl := dashLeader{}
		if tr, err := a.trends(c); err != nil {
			dl.Error = classify(err).message
		} else {
			dl.Trends = tr
			dl.Chart = chartData{Kind: "line", Title: "每周信息量", Series: []string{"信息数"}}
			for _, w := range tr.Weeks {
				dl.Chart.Labels = append(dl.Chart.Labels, w.Start.Format("01-02"))
				dl.Chart.Values = append(dl.Chart.Values, []float64{float64(w.Docs)})
			}
		}
		fu, overdue, err := a.stats.stats.FollowUp(ctx, sub, now)
		if err != nil {
			return err
		}
		dl.FollowUp, dl.Overdue = fu, overdue
		data["Leader"] = dl
	}
	if isOffice(sub) {
		do := dashOffice{}
		p, _ := scoring.ParsePeriod(fmt.Sprint(y))
		if t, err := a.stats.scoring.Compute(ctx, p); err != nil {
			if errors.Is(err, scoring.ErrNoRules) {
				do.LeagueErr = fmt.Sprintf("%d 年尚未设定考核规则。", y)
			} else {
				return err
			}
		} else {
			do.League = t.Rows[:min(10, len(t.Rows))]
		}
		heat, err := a.stats.stats.Heat(ctx, sub, year)
		if err != nil {
			return err
		}
		do.Districts = sortedKeys(heat)
		cats := map[string]bool{}
		for _, m := range heat {
			for k := range m {
				cats[k] = true
			}
		}
		do.Cats = sortedKeys(cats)
		do.Chart = chartData{Kind: "heatmap", Title: "区县 × 类别", Series: do.Cats}
		for _, d := range do.Districts {
			row := make([]int, len(do.Cats))
			vals := make([]float64, len(do.Cats))
			for j, cat := range do.Cats {
				row[j] = heat[d][cat]
				vals[j] = float64(row[j])
			}
			do.Heat = append(do.Heat, row)
			do.Chart.Labels = append(do.Chart.Labels, orDash(d))
			do.Chart.Values = append(do.Chart.Values, vals)
		}
		data["Office"] = do
	}
	saved, err := a.dashSaved(ctx, u)
	if err != nil {
		return err
	}
	data["Saved"] = saved
	return a.render(c, fiber.StatusOK, "dashboard", page{Title: "工作台", Nav: "dashboard", Data: data})
}

func (a *App) dashUnit(ctx context.Context, sub access.Subject, now time.Time, y int, year stats.Filter) (dashUnit, error) {
	du := dashUnit{Year: y}
	t, err := a.stats.stats.Table(ctx, sub, stats.ByUnit, stats.Filter{From: year.From, To: year.To, Units: []string{sub.UnitCode}})
	if err != nil {
		return du, err
	}
	du.Submitted, du.Adopted, du.Merged, du.Returned, du.Rate = t.Total.Submitted, t.Total.Adopted, t.Total.Merged, t.Total.Returned, t.Total.AdoptionRate
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, search.Location)
	mt, err := a.stats.stats.Table(ctx, sub, stats.ByUnit, stats.Filter{From: monthStart, To: monthStart.AddDate(0, 1, 0), Units: []string{sub.UnitCode}})
	if err != nil {
		return du, err
	}
	du.MonthSubmitted = mt.Total.Submitted
	if rs, err := a.stats.scoring.ActiveRules(ctx, y); err == nil {
		du.HasRules = true
		du.Quota = rs.Rules.Quota.PerMonth
	} else if !errors.Is(err, scoring.ErrNoRules) {
		return du, err
	}
	ledger, err := a.stats.scoring.Ledger(ctx, sub.UnitCode, y, false)
	if err != nil {
		return du, err
	}
	for _, l := range ledger {
		du.Points += l.Points
	}
	sf := statsFilter{Dim: stats.ByUnit, From: year.From.Format("2006-01-02"), To: year.To.AddDate(0, 0, -1).Format("2006-01-02")}
	du.ReturnedLink = sf.itemsLink(sub.UnitCode, stats.WhichReturned)
	du.AdoptedLink = sf.itemsLink(sub.UnitCode, stats.WhichAdopted)
	monthly, err := a.stats.stats.Table(ctx, sub, stats.ByMonth, stats.Filter{From: year.From, To: year.To, Units: []string{sub.UnitCode}})
	if err != nil {
		return du, err
	}
	du.Chart = chartData{Kind: "bar", Title: "本单位每月报送与采用", Series: []string{"报送", "采用", "综合采用"}}
	for _, l := range monthly.Lines {
		du.Chart.Labels = append(du.Chart.Labels, l.Key)
		du.Chart.Values = append(du.Chart.Values, []float64{float64(l.Submitted), float64(l.Adopted), float64(l.Merged)})
	}
	return du, nil
}

// dashSaved runs up to four of the user's saved searches (own first) as panels.
func (a *App) dashSaved(ctx context.Context, u auth.User) ([]dashSaved, error) {
	list, err := a.stats.saved.List(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var out []dashSaved
	for _, ss := range list {
		if len(out) == 4 {
			break
		}
		if ss.OwnerID != u.ID && !ss.Subscribed {
			continue
		}
		d := dashSaved{SavedSearch: ss, Link: "/search?" + ss.Query}
		// The same parser as the search page (savedsearch.ParseValues), so the panel's total is
		// the total the link shows.
		p, perr := savedsearch.ParseParams(ss.Query)
		q := p.Query()
		q.Sort, q.Size, q.Page, q.Scope = search.SortDate, 3, 1, access.Scope(u.Subject())
		if perr != nil {
			d.Error = perr.Error()
		} else if res, err := a.opts.Engine.Search(ctx, q); err != nil {
			d.Error = classify(err).message
		} else {
			d.Total, d.Hits = res.Total, res.Hits
		}
		out = append(out, d)
	}
	return out, nil
}

var _ = url.Values{}
