package attachment_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"infowork/attachment"
	"infowork/extract"
	"infowork/extract/extracttest"
)

// BenchmarkExtractionQueue measures the worker end to end: claim, child process, store the
// text, queue the report for indexing — for distinct DOCX files of about two pages each.
//
//	go test -run '^$' -bench ExtractionQueue -benchtime 1x ./attachment/
func BenchmarkExtractionQueue(b *testing.B) {
	const files = 40
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnvTB(b)
		r, err := extract.NewRunner(extract.RunnerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		w, err := attachment.NewWorker(e.svc, attachment.WorkerOptions{Extractor: r})
		if err != nil {
			b.Fatal(err)
		}
		for f := 0; f < files; f++ {
			var paras []string
			for p := 0; p < 48; p++ {
				paras = append(paras, fmt.Sprintf("第 %d 份文件第 %d 段：街道组织开展汛期应急演练，参加人员一百二十名。", f, p))
			}
			st, err := e.svc.Stage(bytes.NewReader(extracttest.DOCX(b, paras...)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.svc.Create(e.ctx, e.repA, attachment.NewAttachment{SubmissionID: e.subID, Filename: fmt.Sprintf("f%d.docx", f), Caption: "演练报告", File: st}, "127.0.0.1"); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		n, err := w.Drain(e.ctx)
		if err != nil || n != files {
			b.Fatalf("drained %d, %v", n, err)
		}
		b.ReportMetric(float64(files)/time.Since(start).Seconds(), "files/s")
	}
}
