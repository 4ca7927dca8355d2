package scoring

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"os"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"infowork/search"
)

// XLSX writes the league table as a spreadsheet: a title row, the header, one row per unit.
func (t Table) XLSX() ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "通报"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	rows := [][]any{{t.Title}, {"名次", "单位代码", "单位", "区县", "采用", "综合采用", "领导批示", "约稿迟报", "约稿漏报", "得分", "评先资格"}}
	for _, r := range t.Rows {
		elig := "是"
		if !r.Eligible {
			elig = "否"
		}
		rows = append(rows, []any{r.Rank, r.UnitCode, r.UnitName, r.District, r.Adopted, r.Merged, r.Endorsements, r.Late, r.Missed, r.Points, elig})
	}
	rows = append(rows, []any{t.footer()})
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &r); err != nil {
			return nil, fmt.Errorf("scoring: xlsx: %w", err)
		}
	}
	if err := f.SetColWidth(sheet, "C", "C", 28); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("scoring: xlsx: %w", err)
	}
	return buf.Bytes(), nil
}

func (t Table) footer() string {
	s := fmt.Sprintf("依据 %d 年考核规则第 %d 版计算。", t.Period.From.Year(), t.RuleVersion)
	if t.ID != 0 {
		s += fmt.Sprintf("%s 由 %s 发布，已冻结（SHA-256 %s）。", t.PublishedAt.In(search.Location).Format("2006-01-02 15:04"), t.PublishedBy, t.SHA256[:16])
	} else {
		s += "未发布（草表，数据随台账变化）。"
	}
	return s
}

var printTmpl = template.Must(template.New("league").Parse(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<style>body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;font-size:11pt;margin:0}
h1{font-size:18pt;text-align:center;margin:0 0 12pt}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #333;padding:3pt 5pt;text-align:center}td.name{text-align:left}p.foot{font-size:9pt;color:#333}</style>
</head><body><h1>{{.Title}}</h1><table><thead><tr><th>名次</th><th>单位</th><th>区县</th><th>采用</th><th>综合采用</th><th>领导批示</th><th>迟报</th><th>漏报</th><th>得分</th><th>评先资格</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.Rank}}</td><td class="name">{{.UnitName}}</td><td>{{.District}}</td><td>{{.Adopted}}</td><td>{{.Merged}}</td><td>{{.Endorsements}}</td><td>{{.Late}}</td><td>{{.Missed}}</td><td>{{.Points}}</td><td>{{if .Eligible}}是{{else}}否{{end}}</td></tr>
{{end}}</tbody></table><p class="foot" id="foot">{{.Foot}}</p></body></html>`))

// ErrNoBrowser means the Chromium binary that prints PDFs is missing.
var ErrNoBrowser = errors.New("scoring: chromium not found")

// PDF prints the league table with headless Chromium (the same way package render prints issues;
// chromium is $INFOWORK_CHROMIUM or /usr/bin/chromium).
func (t Table) PDF(ctx context.Context) ([]byte, error) {
	chromium := os.Getenv("INFOWORK_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil { // #nosec G703 -- operator-configured browser path ($INFOWORK_CHROMIUM), as in package render
		return nil, fmt.Errorf("%w: %s", ErrNoBrowser, chromium)
	}
	var doc bytes.Buffer
	if err := printTmpl.Execute(&doc, struct {
		Table
		Foot string
	}{t, t.footer()}); err != nil {
		return nil, fmt.Errorf("scoring: pdf: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("data:text/html;charset=utf-8;base64,"+base64.StdEncoding.EncodeToString(doc.Bytes())),
		chromedp.WaitReady(chromedp.CSS("#foot"))); err != nil {
		return nil, fmt.Errorf("scoring: pdf: load: %w", err)
	}
	out, err := chromedp.Run(bctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFMargins(20/25.4, 15/25.4, 20/25.4, 15/25.4)))
	if err != nil {
		return nil, fmt.Errorf("scoring: pdf: %w", err)
	}
	return out, nil
}
