package dedup_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"infowork/dedup"
	"infowork/demo"
)

func corpus(t *testing.T, n int) []demo.Message {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "corpus", "civic-messages")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus missing in CI: %v", err)
		}
		t.Skipf("corpus not found at %s (../shared/corpus): skipped", dir)
	}
	ds, err := demo.Load(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Distinct bodies of some length: the corpus has a few messages posted twice verbatim,
	// which are duplicates indeed and not what the precision measure is about.
	seen := map[string]bool{}
	var out []demo.Message
	for _, m := range ds.Messages {
		key := strings.Join(strings.Fields(m.Body), "")
		if len([]rune(key)) < 60 || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, m)
		if len(out) == n {
			break
		}
	}
	return out
}

// perturb rewrites a message the way a second unit reporting the same event would: a different
// title, a sentence dropped, a sentence of its own added, some characters changed, punctuation
// and spacing different.
func perturb(r *rand.Rand, m demo.Message) (string, string) {
	sentences := strings.FieldsFunc(m.Body, func(c rune) bool { return c == '。' || c == '\n' || c == '！' || c == '？' })
	if len(sentences) > 3 {
		i := r.IntN(len(sentences))
		sentences = append(sentences[:i], sentences[i+1:]...)
	}
	body := strings.Join(sentences, "，")
	rs := []rune(body)
	for k := 0; k < len(rs)/60; k++ { // about 1.5% of characters replaced
		rs[r.IntN(len(rs))] = []rune("的了在是有和")[r.IntN(6)]
	}
	body = "据本单位了解，" + string(rs) + "。目前相关部门已介入处理，后续情况将及时报送。"
	title := "关于" + strings.TrimPrefix(m.Title, "关于") + "的情况报告"
	return title, body
}

func randFor(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed+1)) }

func TestCorpusRecallAndPrecision(t *testing.T) {
	msgs := corpus(t, 600)
	if len(msgs) < 300 {
		t.Fatalf("only %d corpus messages", len(msgs))
	}
	r := rand.New(rand.NewPCG(1, 2))
	fps := make([]dedup.Fingerprint, len(msgs))
	for i, m := range msgs {
		fps[i] = dedup.Sketch(m.Title, m.Body)
	}
	// Recall: a perturbed copy of each of 200 messages is a hint, and its original is the best one.
	found, best := 0, 0
	for i := 0; i < 200; i++ {
		title, body := perturb(r, msgs[i])
		fp := dedup.Sketch(title, body)
		bi, bv := -1, 0.0
		for j := range msgs {
			if sc := dedup.Compare(fp, fps[j]); sc.Near() && sc.Value() > bv {
				bi, bv = j, sc.Value()
			}
		}
		if dedup.Compare(fp, fps[i]).Near() {
			found++
		} else {
			t.Logf("missed: %s / %s: %+v", msgs[i].Title, title, dedup.Compare(fp, fps[i]))
		}
		if bi == i {
			best++
		}
	}
	// Precision: pairs of distinct real messages are not hints.
	pairs, false_ := 0, 0
	var worst dedup.Score
	var worstPair string
	for i := range msgs {
		for j := i + 1; j < len(msgs); j++ {
			pairs++
			sc := dedup.Compare(fps[i], fps[j])
			if sc.Near() {
				false_++
				t.Logf("distinct messages flagged (in this corpus these are mostly the same complaint posted twice under another title): %q / %q %+v", msgs[i].Title, msgs[j].Title, sc)
			}
			if sc.Value() > worst.Value() {
				worst, worstPair = sc, fmt.Sprintf("%q / %q", msgs[i].Title, msgs[j].Title)
			}
		}
	}
	recall := float64(found) / 200
	t.Logf("recall %.3f (best match %d/200); %d/%d unrelated pairs flagged (%.5f); highest unrelated score %.3f/%.3f: %s",
		recall, best, false_, pairs, float64(false_)/float64(pairs), worst.Jaccard, worst.Containment, worstPair)
	if recall < 0.97 {
		t.Errorf("recall %.3f < 0.97", recall)
	}
	if best < 195 {
		t.Errorf("the original was the best hint for only %d of 200 copies", best)
	}
	if rate := float64(false_) / float64(pairs); rate > 0.0005 {
		t.Errorf("false hint rate %.5f on unrelated pairs > 0.0005", rate)
	}
}

func TestCompareBasics(t *testing.T) {
	a := dedup.Sketch("芙蓉区东湖街道发生内涝", "今天上午九点，芙蓉区东湖街道因强降雨发生内涝，积水深处约四十厘米，街道已组织人员疏导交通。")
	same := dedup.Sketch("芙蓉区东湖街道发生内涝！", "今天上午九点， 芙蓉区东湖街道因强降雨发生内涝，积水深处约四十厘米；街道已组织人员疏导交通")
	other := dedup.Sketch("岳麓区举办招聘会", "岳麓区人社局本周六在区政务中心举办春季招聘会，提供岗位一千二百个，涉及制造、物流和餐饮等行业。")
	if sc := dedup.Compare(a, same); sc.Jaccard != 1 {
		t.Errorf("punctuation and spacing changed the score: %+v", sc)
	}
	if sc := dedup.Compare(a, other); sc.Near() {
		t.Errorf("unrelated texts are near: %+v", sc)
	}
	if sc := dedup.Compare(a, dedup.Sketch("", "")); sc.Near() || sc.Value() != 0 {
		t.Errorf("empty text: %+v", sc)
	}
}
