package render

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"os"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
)

// PDFOptions configure the PDF printer.
type PDFOptions struct {
	// Chromium is the browser binary; default $INFOWORK_CHROMIUM, else /usr/bin/chromium.
	Chromium string
	// Timeout bounds one print; default 60 s.
	Timeout time.Duration
	// Registerer receives the printer's metrics; nil: not registered.
	Registerer prometheus.Registerer
}

// Printer prints issues to PDF with headless Chromium, one at a time (each print starts its own
// short-lived browser, so a crashed print leaves nothing behind).
type Printer struct {
	opts    PDFOptions
	mu      sync.Mutex
	metrics *metrics
}

// NewPrinter builds a printer; the browser is started per print.
func NewPrinter(opts PDFOptions) *Printer {
	if opts.Chromium == "" {
		opts.Chromium = os.Getenv("INFOWORK_CHROMIUM")
	}
	if opts.Chromium == "" {
		opts.Chromium = "/usr/bin/chromium"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	return &Printer{opts: opts, metrics: newMetrics(opts.Registerer)}
}

// ErrNoBrowser means the Chromium binary is missing: the deployment must install it.
var ErrNoBrowser = errors.New("render: chromium not found")

// PDF prints the issue: A4, the classification marking in the header and the page number in the
// footer of every page.
func (p *Printer) PDF(ctx context.Context, is Issue) ([]byte, error) {
	start := time.Now()
	out, err := p.print(ctx, is)
	if err != nil {
		p.metrics.failures.Inc()
		return nil, err
	}
	p.metrics.seconds.Observe(time.Since(start).Seconds())
	return out, nil
}

func (p *Printer) print(ctx context.Context, is Issue) ([]byte, error) {
	if _, err := os.Stat(p.opts.Chromium); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoBrowser, p.opts.Chromium)
	}
	doc, err := renderHTML(is, true)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(p.opts.Chromium),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, allocOpts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	font := `font-family:'` + Font + `',sans-serif;`
	header := `<div style="` + font + `font-size:10pt;font-weight:bold;width:100%;padding:0 26mm 0 28mm;box-sizing:border-box;">` +
		html.EscapeString(is.Marking) + `</div>`
	footer := `<div style="` + font + `font-size:10pt;width:100%;text-align:center;">— <span class="pageNumber"></span> —</div>`
	if err := chromedp.Do(bctx,
		chromedp.Navigate("data:text/html;charset=utf-8;base64,"+base64.StdEncoding.EncodeToString(doc)),
		chromedp.WaitReady(chromedp.CSS("footer.colophon")),
	); err != nil {
		return nil, fmt.Errorf("render: pdf of issue %d: load: %w", is.IssueID, err)
	}
	out, err := chromedp.Run(bctx, chromedp.PrintToPDF(
		chromedp.PDFPaper(chromedp.PaperA4),
		chromedp.PDFMargins(25/25.4, 0, 25/25.4, 0),
		chromedp.PDFHeaderTemplate(header), chromedp.PDFFooterTemplate(footer),
		chromedp.PDFPrintBackground(),
	))
	if err != nil {
		return nil, fmt.Errorf("render: pdf of issue %d: %w", is.IssueID, err)
	}
	return out, nil
}
