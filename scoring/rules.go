package scoring

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Event kinds.
const (
	KindAdoption           = "adoption"
	KindEndorsement        = "endorsement"
	KindSolicitationLate   = "solicitation_late"
	KindSolicitationMissed = "solicitation_missed"
	KindQuota              = "quota"
)

// Kinds lists every event kind.
var Kinds = []string{KindAdoption, KindEndorsement, KindSolicitationLate, KindSolicitationMissed, KindQuota}

// Adoption levels (who adopted the item) and their zh-CN names.
var AdoptionLevels = []string{"city", "province", "state_council", "central"}

// Leader levels of an endorsement (领导批示).
var LeaderLevels = []string{"central", "province", "city", "city_office", "county"}

var levelNames = map[string]string{
	"city": "市委办/市政府办", "province": "省委/省政府办公厅", "state_council": "国务院办公厅", "central": "中央办公厅",
}

var leaderNames = map[string]string{
	"central": "中央领导", "province": "省级领导", "city": "市级领导", "city_office": "市委/市政府办公室", "county": "县级领导",
}

// AdoptionLevelName returns the zh-CN name of an adoption level.
func AdoptionLevelName(l string) string { return nameOr(levelNames, l) }

// LeaderLevelName returns the zh-CN name of a leader level.
func LeaderLevelName(l string) string { return nameOr(leaderNames, l) }

func nameOr(m map[string]string, k string) string {
	if n, ok := m[k]; ok {
		return n
	}
	return k
}

// Threshold scores every Every-th event of a kind per unit and year with Points (e.g. every third
// late report −10). Every 0 turns the rule off.
type Threshold struct {
	Every  int     `json:"every"`
	Points float64 `json:"points"`
}

// Quota is the monthly reporting quota: a unit that submits at least PerMonth reports in a month
// earns BasePoints; each report short of it scores ShortfallPoints (negative).
type Quota struct {
	PerMonth        int     `json:"per_month"`
	BasePoints      float64 `json:"base_points"`
	ShortfallPoints float64 `json:"shortfall_points"`
}

// Rules is one year's scoring rules (考核办法), stored as JSON.
//
// An adoption scores AdoptionLevels[level]; when the item type (快报, 约稿, 简讯 …) is listed in
// ItemTypes, the type's points replace the level's (a city-level 简讯 scores 3, not 10). A
// merged adoption (综合采用) scores MergedFactor times that. An endorsement scores
// EndorsementLevels[leader level]; with EndorsementExtra set, the second and later endorsements of
// the same item score EndorsementExtra instead.
type Rules struct {
	AdoptionLevels    map[string]float64 `json:"adoption_levels"`
	ItemTypes         map[string]float64 `json:"item_types"`
	MergedFactor      float64            `json:"merged_factor"`
	EndorsementLevels map[string]float64 `json:"endorsement_levels"`
	EndorsementExtra  *float64           `json:"endorsement_extra,omitempty"`
	Late              Threshold          `json:"late"`
	Missed            Threshold          `json:"missed"`
	Quota             Quota              `json:"quota"`
}

// DefaultRules are the rules cited from published 考核办法 (docs/statistics.md): adoption by the
// city office 10, province 20, State Council 30, Central Office 50; 快报 10, 约稿 10, 简讯 3;
// endorsements central 50, province 40, city 30, city office 20, county 10; every third late
// report and every second missed solicitation −10.
func DefaultRules() Rules {
	return Rules{
		AdoptionLevels:    map[string]float64{"city": 10, "province": 20, "state_council": 30, "central": 50},
		ItemTypes:         map[string]float64{"快报": 10, "约稿": 10, "简讯": 3},
		MergedFactor:      0.5,
		EndorsementLevels: map[string]float64{"central": 50, "province": 40, "city": 30, "city_office": 20, "county": 10},
		Late:              Threshold{Every: 3, Points: -10},
		Missed:            Threshold{Every: 2, Points: -10},
		Quota:             Quota{PerMonth: 0},
	}
}

// ValidationError names the field at fault.
type ValidationError struct{ Field, Message string }

func (e *ValidationError) Error() string { return "scoring: " + e.Field + ": " + e.Message }

// Validate checks the rules; the error names the field and the limit.
func (r Rules) Validate() error {
	checkMap := func(field string, m map[string]float64, allowed []string) error {
		for k, v := range m {
			if allowed != nil && !slices.Contains(allowed, k) {
				return &ValidationError{field, fmt.Sprintf("未知级别 %q（可用：%s）", k, strings.Join(allowed, "、"))}
			}
			if k == "" || len([]rune(k)) > 20 {
				return &ValidationError{field, "名称须为 1 到 20 个字"}
			}
			if math.IsNaN(v) || math.Abs(v) > 1000 {
				return &ValidationError{field, fmt.Sprintf("%s 的分值须在 -1000 到 1000 之间", k)}
			}
		}
		return nil
	}
	if err := checkMap("adoption_levels", r.AdoptionLevels, AdoptionLevels); err != nil {
		return err
	}
	if err := checkMap("item_types", r.ItemTypes, nil); err != nil {
		return err
	}
	if err := checkMap("endorsement_levels", r.EndorsementLevels, LeaderLevels); err != nil {
		return err
	}
	if r.MergedFactor < 0 || r.MergedFactor > 1 {
		return &ValidationError{"merged_factor", "综合采用系数须在 0 到 1 之间"}
	}
	if r.EndorsementExtra != nil && math.Abs(*r.EndorsementExtra) > 1000 {
		return &ValidationError{"endorsement_extra", "分值须在 -1000 到 1000 之间"}
	}
	for _, t := range []struct {
		f string
		t Threshold
	}{{"late", r.Late}, {"missed", r.Missed}} {
		if t.t.Every < 0 || t.t.Every > 100 {
			return &ValidationError{t.f, "every 须在 0 到 100 之间"}
		}
		if math.Abs(t.t.Points) > 1000 {
			return &ValidationError{t.f, "分值须在 -1000 到 1000 之间"}
		}
	}
	if r.Quota.PerMonth < 0 || r.Quota.PerMonth > 1000 {
		return &ValidationError{"quota.per_month", "每月定额须在 0 到 1000 之间"}
	}
	if math.Abs(r.Quota.BasePoints) > 1000 || math.Abs(r.Quota.ShortfallPoints) > 1000 {
		return &ValidationError{"quota", "分值须在 -1000 到 1000 之间"}
	}
	return nil
}

// ParseRules decodes and validates rules JSON; unknown fields are an error (a typo must not
// silently score 0).
func ParseRules(b []byte) (Rules, error) {
	var r Rules
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, &ValidationError{"rules", "JSON 格式有误：" + err.Error()}
	}
	return r, r.Validate()
}

// Event is one scoring fact.
type Event struct {
	ID           int64
	Kind         string
	Source       string // natural key in the producing system, e.g. workflow_event:42
	UnitID       int64
	SubmissionID int64 // 0 when the fact is not about one item (quota, missed solicitation)
	OccurredAt   time.Time
	Attrs        Attrs
	RecordedBy   string
}

// Attrs are the kind-specific facts of an event.
type Attrs struct {
	Level    string `json:"level,omitempty"`     // adoption level or leader level
	ItemType string `json:"item_type,omitempty"` // 快报, 约稿, 简讯 …
	Merged   bool   `json:"merged,omitempty"`    // 综合采用
	Leader   string `json:"leader,omitempty"`    // endorsing leader's name
	Month    string `json:"month,omitempty"`     // quota: 2006-01
	Count    int    `json:"count,omitempty"`     // quota: reports submitted in the month
	Note     string `json:"note,omitempty"`
}

// Entry is one ledger row computed for an event.
type Entry struct {
	EventID     int64
	UnitID      int64
	OccurredAt  time.Time
	Rule        string
	Points      float64
	Explanation string
}

// Scorer scores events in order, carrying the per-unit and per-item counters that threshold and
// repeat rules need. Feed it every event of a year in (occurred_at, id) order.
type Scorer struct {
	rules        Rules
	endorsements map[int64]int // per submission
	late, missed map[int64]int // per unit
}

// NewScorer starts scoring a year with rules.
func NewScorer(r Rules) *Scorer {
	return &Scorer{rules: r, endorsements: map[int64]int{}, late: map[int64]int{}, missed: map[int64]int{}}
}

// Score returns the ledger entry of e (points may be 0: the row still explains why).
func (s *Scorer) Score(e Event) Entry {
	en := Entry{EventID: e.ID, UnitID: e.UnitID, OccurredAt: e.OccurredAt}
	r := s.rules
	switch e.Kind {
	case KindAdoption:
		pts, ok := r.AdoptionLevels[e.Attrs.Level]
		en.Rule = "adoption." + e.Attrs.Level
		en.Explanation = AdoptionLevelName(e.Attrs.Level) + "采用"
		if tp, tok := r.ItemTypes[e.Attrs.ItemType]; e.Attrs.ItemType != "" && tok {
			pts, ok = tp, true
			en.Rule = "item_type." + e.Attrs.ItemType
			en.Explanation += "（" + e.Attrs.ItemType + "）"
		}
		if !ok {
			en.Explanation += "：规则未设分值"
		}
		if e.Attrs.Merged {
			pts *= r.MergedFactor
			en.Rule += ".merged"
			en.Explanation += fmt.Sprintf("，综合采用 ×%g", r.MergedFactor)
		}
		en.Points = pts
	case KindEndorsement:
		s.endorsements[e.SubmissionID]++
		n := s.endorsements[e.SubmissionID]
		en.Rule = "endorsement." + e.Attrs.Level
		en.Points = r.EndorsementLevels[e.Attrs.Level]
		en.Explanation = LeaderLevelName(e.Attrs.Level) + "批示"
		if r.EndorsementExtra != nil && n > 1 && e.SubmissionID != 0 {
			en.Rule = "endorsement.extra"
			en.Points = *r.EndorsementExtra
			en.Explanation += fmt.Sprintf("（同一信息第 %d 次批示）", n)
		}
	case KindSolicitationLate:
		s.late[e.UnitID]++
		en.Rule, en.Points, en.Explanation = threshold("late", r.Late, s.late[e.UnitID], "约稿迟报")
	case KindSolicitationMissed:
		s.missed[e.UnitID]++
		en.Rule, en.Points, en.Explanation = threshold("missed", r.Missed, s.missed[e.UnitID], "约稿漏报")
	case KindQuota:
		en.Rule = "quota"
		q := r.Quota
		switch {
		case q.PerMonth == 0:
			en.Explanation = e.Attrs.Month + " 未设定额"
		case e.Attrs.Count >= q.PerMonth:
			en.Points = q.BasePoints
			en.Explanation = fmt.Sprintf("%s 报送 %d 条，完成定额 %d 条", e.Attrs.Month, e.Attrs.Count, q.PerMonth)
		default:
			short := q.PerMonth - e.Attrs.Count
			en.Points = float64(short) * q.ShortfallPoints
			en.Explanation = fmt.Sprintf("%s 报送 %d 条，少于定额 %d 条，差 %d 条", e.Attrs.Month, e.Attrs.Count, q.PerMonth, short)
		}
	default:
		en.Rule = "unknown"
		en.Explanation = "未知事件类型 " + e.Kind
	}
	en.Points = math.Round(en.Points*100) / 100
	return en
}

func threshold(rule string, t Threshold, n int, what string) (string, float64, string) {
	if t.Every > 0 && n%t.Every == 0 {
		return rule, t.Points, fmt.Sprintf("本年第 %d 次%s（每 %d 次计 %g 分）", n, what, t.Every, t.Points)
	}
	return rule, 0, fmt.Sprintf("本年第 %d 次%s", n, what)
}

// ScoreAll scores events (any order) with rules, in (occurred_at, id) order.
func ScoreAll(r Rules, events []Event) []Entry {
	evs := slices.Clone(events)
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].OccurredAt.Equal(evs[j].OccurredAt) {
			return evs[i].OccurredAt.Before(evs[j].OccurredAt)
		}
		return evs[i].ID < evs[j].ID
	})
	s := NewScorer(r)
	out := make([]Entry, len(evs))
	for i, e := range evs {
		out[i] = s.Score(e)
	}
	return out
}
