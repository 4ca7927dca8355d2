package demo

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// hash is the only source of "randomness": FNV-1a of a salt and a key, so
// every assignment depends on nothing but the message's own SourceID.
func hash(salt, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(salt)) // hash.Hash.Write never returns an error
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// permille maps a hash to 0..999.
func permille(salt, key string) int { return int(hash(salt, key) % 1000) }

// buildCategories turns the tree rows into Categories with path codes
// (C01, C01.03, C01.03.002) numbered in order of first appearance. Blank
// level-2/3 cells end the path early; the header row, if repeated, is
// skipped.
func buildCategories(rows []categoryRow) []Category {
	var out []Category
	codes := map[string]string{} // path → code
	children := map[string]int{} // parent code → number of children so far
	add := func(path, name, parent string, level int) string {
		if c, ok := codes[path]; ok {
			return c
		}
		children[parent]++
		var code string
		switch level {
		case 1:
			code = fmt.Sprintf("C%02d", children[parent])
		case 2:
			code = fmt.Sprintf("%s.%02d", parent, children[parent])
		default:
			code = fmt.Sprintf("%s.%03d", parent, children[parent])
		}
		codes[path] = code
		out = append(out, Category{Code: code, Name: name, Parent: parent, Level: level})
		return code
	}
	for _, r := range rows {
		if r[0] == "" || r[0] == "一级分类" {
			continue
		}
		c1 := add(r[0], r[0], "", 1)
		if r[1] == "" {
			continue
		}
		c2 := add(r[0]+"\x00"+r[1], r[1], c1, 2)
		if r[2] == "" {
			continue
		}
		add(r[0]+"\x00"+r[1]+"\x00"+r[2], r[2], c2, 3)
	}
	return out
}

// topKeywords add evidence for a top-level category: words citizens use
// rather than the formal category names. Terms need at least two runes.
var topKeywords = map[string][]string{
	"城乡建设": {"小区", "物业", "业主", "房屋", "房子", "房产", "楼盘", "开发商", "商品房", "拆迁", "征收", "安置房",
		"违建", "违章", "规划", "施工", "工地", "电梯", "停车位", "燃气", "自来水", "停水", "停电", "路灯", "下水道",
		"棚改", "装修", "围挡", "交房", "房产证", "不动产", "市政", "公厕", "井盖", "积水", "排水", "管网"},
	"交通运输": {"公交", "地铁", "道路", "出租车", "网约车", "高速", "收费站", "客运", "货运", "快递", "站台", "公路",
		"线路", "班车", "修路", "红绿灯", "人行道", "斑马线", "路口", "大巴"},
	"教育文体": {"学校", "老师", "教师", "幼儿园", "学生", "小学", "中学", "入学", "招生", "学位", "教育", "培训机构",
		"补课", "高考", "中考", "学区", "校园", "家长", "体育", "图书馆", "博物馆", "文化"},
	"卫生计生": {"医院", "医生", "看病", "药品", "药店", "疫苗", "卫生院", "计生", "计划生育", "诊所", "患者", "病人",
		"医疗", "食品安全", "手术", "独生子女", "二胎", "卫健委", "卫生"},
	"劳动和社会保障": {"社保", "工资", "养老", "退休", "欠薪", "拖欠工资", "劳动合同", "农民工", "失业", "工伤",
		"就业", "公积金", "人社", "养老金", "加班", "社会保险", "医保", "五险一金", "辞退", "用人单位"},
	"环境保护": {"污染", "噪音", "噪声", "垃圾", "臭味", "排放", "粉尘", "油烟", "污水", "废气", "环保", "扰民",
		"异味", "焚烧", "化工", "排污", "黑臭", "扬尘", "渣土"},
	"商贸旅游": {"商铺", "旅游", "景区", "门店", "商家", "消费者", "价格", "传销", "超市", "市场监管", "假货", "商户",
		"退款", "广告", "游客", "酒店", "售后", "质量问题", "预付卡"},
	"政法": {"派出所", "公安", "警察", "报警", "诈骗", "治安", "户口", "户籍", "身份证", "交警", "违停", "法院",
		"律师", "赌博", "黑恶", "扫黑", "判决", "消防"},
	"民政": {"低保", "救助", "殡葬", "墓地", "公墓", "婚姻登记", "社区", "居委会", "残疾", "退役军人", "养老院",
		"优抚", "地名", "老年人", "高龄", "孤儿"},
	"农村农业": {"农村", "村民", "农民", "土地承包", "宅基地", "扶贫", "贫困户", "村委", "种植", "养殖", "水库",
		"林地", "耕地", "农业", "村干部", "村组", "水利"},
	"国土资源": {"土地", "征地", "采矿", "矿山", "国土", "砂石", "挖沙", "地质"},
	"经济管理": {"企业", "税收", "金融", "贷款", "集资", "非法集资", "P2P", "银行", "投资", "国企", "破产",
		"营商环境", "理财", "安全生产"},
	"科技与信息产业": {"网络", "宽带", "信号", "移动公司", "联通", "电信", "5G", "科技", "专利", "知识产权",
		"互联网", "基站", "手机信号"},
	"党务政务": {"党员", "党支部", "政府网站", "政务", "办事", "窗口", "人大", "政协", "宗教", "外事", "政务服务"},
	"纪检监察": {"腐败", "贪污", "受贿", "作风", "不作为", "乱作为", "以权谋私", "吃拿卡要", "纪委", "违纪", "公款"},
}

// fallbackTops is where a message with no evidence at all goes, picked by
// hash: the most common top-level categories of the labelled data.
var fallbackTops = []string{"城乡建设", "城乡建设", "劳动和社会保障", "教育文体", "卫生计生", "交通运输", "商贸旅游", "环境保护"}

// Parts of category names that say nothing on their own.
var (
	genericTerms = map[string]bool{"其他": true, "管理": true, "问题": true, "建设": true, "服务": true,
		"政策": true, "工作": true, "其他污染": true, "其他补贴": true, "其他野生资源管理": true, "其它": true}
	nameSuffixes = []string{"管理", "问题", "工作", "服务", "政策", "监管", "纠纷", "待遇", "污染", "事务", "建设"}
	namePrefixes = []string{"城乡居民", "城镇居民", "城镇职工", "职工", "城镇", "农村"}
)

// nameTerms splits a category name into the terms searched in the text.
func nameTerms(name string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		t = strings.TrimSpace(t)
		if len([]rune(t)) < 2 || genericTerms[t] || seen[t] {
			return
		}
		seen[t] = true
		out = append(out, t)
	}
	parts := strings.FieldsFunc(name, func(r rune) bool {
		return strings.ContainsRune("、和与及/（）()“”\"", r)
	})
	for _, p := range append([]string{name}, parts...) {
		add(p)
		q := p
		for _, pre := range namePrefixes {
			if s, ok := strings.CutPrefix(q, pre); ok && len([]rune(s)) >= 2 {
				q = s
				add(q)
				break
			}
		}
		for _, suf := range nameSuffixes {
			if s, ok := strings.CutSuffix(q, suf); ok && len([]rune(s)) >= 2 {
				add(s)
				break
			}
		}
	}
	return out
}

// term is one searched string and what a hit counts for.
type term struct {
	runes   []rune
	cats    []int // category indexes whose name produced it
	keyword []int // top-level category indexes whose keyword table has it
}

// assigner holds the prepared matcher and lookup tables.
type assigner struct {
	cats     []Category
	byCode   map[string]int
	topByNm  map[string]int // top-level name → index
	children map[int][]int  // category index → child indexes
	parent   []int          // category index → parent index (-1)
	top      []int          // category index → its top-level index
	tops     []int          // indexes of level-1 categories

	terms   []term
	byStart map[[2]rune][]int // first two runes → term indexes

	districtSet  map[string]bool
	districtUnit map[string][]string // district → [government unit, direct points…]
	bureauForCat []string            // category index → bureau unit code

	// scratch, reused per message
	titleHits, bodyHits []int
	touched             []int
	nameScore, kwScore  []int
}

func newAssigner(cats []Category, units []Unit, districts []string) *assigner {
	a := &assigner{
		cats: cats, byCode: map[string]int{}, topByNm: map[string]int{}, children: map[int][]int{},
		parent: make([]int, len(cats)), top: make([]int, len(cats)),
		byStart: map[[2]rune][]int{}, districtSet: map[string]bool{}, districtUnit: map[string][]string{},
	}
	for i, c := range cats {
		a.byCode[c.Code] = i
		a.parent[i] = -1
		if c.Parent != "" {
			p := a.byCode[c.Parent]
			a.parent[i] = p
			a.children[p] = append(a.children[p], i)
			a.top[i] = a.top[p]
		} else {
			a.top[i] = i
			a.tops = append(a.tops, i)
			a.topByNm[c.Name] = i
		}
	}

	// The matcher: every term indexed by its first two runes.
	termIdx := map[string]int{}
	addTerm := func(s string) *term {
		i, ok := termIdx[s]
		if !ok {
			i = len(a.terms)
			termIdx[s] = i
			r := []rune(s)
			a.terms = append(a.terms, term{runes: r})
			k := [2]rune{r[0], r[1]}
			a.byStart[k] = append(a.byStart[k], i)
		}
		return &a.terms[i]
	}
	for i, c := range cats {
		for _, t := range nameTerms(c.Name) {
			p := addTerm(t)
			p.cats = append(p.cats, i)
		}
	}
	for _, ti := range a.tops {
		for _, kw := range topKeywords[cats[ti].Name] {
			p := addTerm(kw)
			p.keyword = append(p.keyword, ti)
		}
	}
	a.titleHits = make([]int, len(a.terms))
	a.bodyHits = make([]int, len(a.terms))
	a.nameScore = make([]int, len(cats))
	a.kwScore = make([]int, len(cats))

	// Units per district and the bureau of every category.
	for _, d := range districts {
		a.districtSet[d] = true
	}
	bureauCode := map[string]string{}
	for _, u := range units {
		switch u.Kind {
		case "bureau":
			bureauCode[u.Name] = u.Code
		case "district", "direct":
			if u.District != "" {
				a.districtUnit[u.District] = append(a.districtUnit[u.District], u.Code)
			}
		}
	}
	a.bureauForCat = make([]string, len(cats))
	for i := range cats {
		a.bureauForCat[i] = bureauCode[a.bureauName(i)]
	}
	return a
}

// bureauName finds the bureau in charge of category i: the most specific
// category on its path named in some bureau's subs, else the bureau whose
// tops hold its top-level, else the petitions bureau.
func (a *assigner) bureauName(i int) string {
	for n := i; n >= 0; n = a.parent[n] {
		name := a.cats[n].Name
		for _, b := range bureaus {
			for _, s := range b.subs {
				if name == s {
					return b.name
				}
			}
		}
	}
	top := a.cats[a.top[i]].Name
	for _, b := range bureaus {
		for _, t := range b.tops {
			if t == top {
				return b.name
			}
		}
	}
	return bureaus[0].name
}

// scan counts the hits of every term in s into hits, recording touched terms.
func (a *assigner) scan(s string, hits []int) {
	r := []rune(s)
	for i := 0; i+1 < len(r); i++ {
		cands, ok := a.byStart[[2]rune{r[i], r[i+1]}]
		if !ok {
			continue
		}
	next:
		for _, ti := range cands {
			tr := a.terms[ti].runes
			if i+len(tr) > len(r) {
				continue
			}
			for k := 2; k < len(tr); k++ {
				if r[i+k] != tr[k] {
					continue next
				}
			}
			if a.titleHits[ti] == 0 && a.bodyHits[ti] == 0 {
				a.touched = append(a.touched, ti)
			}
			hits[ti]++
		}
	}
}

// assign fills District, CategoryCode, UnitCode, Classification and
// Urgency of m. label is its 一级分类 ("" if none).
func (a *assigner) assign(m *Message, label string) {
	id := m.SourceID

	// District: first known district in the title, else in the body.
	m.District = ""
	for _, s := range []string{m.Title, m.Body} {
		for _, d := range districtRE.FindAllString(s, -1) {
			if a.districtSet[d] {
				m.District = d
				break
			}
		}
		if m.District != "" {
			break
		}
	}

	m.CategoryCode = a.cats[a.category(m, label)].Code
	ci := a.byCode[m.CategoryCode]

	// Unit.
	local := a.districtUnit[m.District]
	switch {
	case len(local) > 0 && permille("unit-local", id) < 600:
		if permille("unit-gov", id) < 250 || len(local) == 1 {
			m.UnitCode = local[0] // the district itself
		} else {
			m.UnitCode = local[1+int(hash("unit-point", id)%uint64(len(local)-1))] // #nosec G115 -- len(local) >= 2 here and the remainder is < len(local)
		}
	default:
		m.UnitCode = a.bureauForCat[ci]
	}

	switch p := permille("classification", id); {
	case p < 700:
		m.Classification = "public"
	case p < 900:
		m.Classification = "internal"
	case p < 980:
		m.Classification = "secret"
	default:
		m.Classification = "confidential"
	}
	switch p := permille("urgency", id); {
	case p < 850:
		m.Urgency = "normal"
	case p < 970:
		m.Urgency = "urgent"
	default:
		m.Urgency = "very_urgent"
	}
}

// category returns the index of the level-2 or level-3 category of m.
func (a *assigner) category(m *Message, label string) int {
	for _, ti := range a.touched {
		a.titleHits[ti], a.bodyHits[ti] = 0, 0
	}
	a.touched = a.touched[:0]
	for i := range a.nameScore {
		a.nameScore[i], a.kwScore[i] = 0, 0
	}
	a.scan(m.Title, a.titleHits)
	a.scan(m.Body, a.bodyHits)
	for _, ti := range a.touched {
		t := &a.terms[ti]
		s := 3*min(a.titleHits[ti], 1) + min(a.bodyHits[ti], 3)
		w := min(len(t.runes)-1, 4) // longer terms are more specific
		for _, c := range t.cats {
			a.nameScore[c] += s * w
		}
		for _, c := range t.keyword {
			a.kwScore[c] += s * w
		}
	}

	// Top-level: the label if there is one, else the best evidence.
	top, ok := a.topByNm[label]
	if !ok {
		top = -1
		best := 0
		for _, ti := range a.tops {
			s := 2*a.kwScore[ti] + a.subtreeScore(ti)
			if s > best {
				best, top = s, ti
			}
		}
		if top < 0 {
			name := fallbackTops[hash("top", m.SourceID)%uint64(len(fallbackTops))]
			if t, ok := a.topByNm[name]; ok {
				top = t
			} else {
				top = a.tops[hash("top", m.SourceID)%uint64(len(a.tops))]
			}
		}
	}

	// Below it: the best-matching level-2/3 node.
	best, bestScore := -1, 0
	for _, c2 := range a.children[top] {
		s2 := 2 * a.nameScore[c2]
		if s2 > bestScore {
			best, bestScore = c2, s2
		}
		for _, c3 := range a.children[c2] {
			if a.nameScore[c3] == 0 {
				continue
			}
			if s3 := 2*a.nameScore[c3] + a.nameScore[c2]; s3 > bestScore {
				best, bestScore = c3, s3
			}
		}
	}
	if best >= 0 {
		return best
	}
	// No evidence below the top-level: a deterministic pick, avoiding the
	// "其他" (other) nodes where there is a choice.
	l2 := a.children[top]
	if len(l2) == 0 {
		return top // a tree without level 2; cannot happen with the shipped data
	}
	c2 := pick(a.namedNot(l2, "其他"), hash("cat2", m.SourceID))
	if l3 := a.namedNot(a.children[c2], "其他"); len(l3) > 0 && permille("cat3", m.SourceID) < 500 {
		return pick(l3, hash("cat3", m.SourceID))
	}
	return c2
}

func (a *assigner) subtreeScore(i int) int {
	s := a.nameScore[i]
	for _, c := range a.children[i] {
		s += a.subtreeScore(c)
	}
	return s
}

// namedNot returns the nodes not named name, or all of them if none is left.
func (a *assigner) namedNot(nodes []int, name string) []int {
	var out []int
	for _, n := range nodes {
		if a.cats[n].Name != name {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nodes
	}
	return out
}

func pick(nodes []int, h uint64) int {
	if len(nodes) == 0 {
		return -1
	}
	return nodes[h%uint64(len(nodes))]
}
