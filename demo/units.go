package demo

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
)

// CityName is the city whose information office the demo plays.
const CityName = "A市"

// districtRE matches the city's districts and counties as the corpus
// anonymises them: A1区 … A6区, A7县, A8县, A9市 (a county-level city).
// Other letters (B市, K1区 …) are other cities of the province.
var districtRE = regexp.MustCompile(`A[1-9][0-9]?[区县市]`)

// detectDistricts returns the district names that at least min messages
// name (title or body), ordered by their number (A1区, A2区, …, A10区).
func detectDistricts(msgs []labelled, min int) []string {
	count := map[string]int{}
	for i := range msgs {
		seen := map[string]bool{}
		for _, s := range []string{msgs[i].Title, msgs[i].Body} {
			for _, d := range districtRE.FindAllString(s, -1) {
				if !seen[d] {
					seen[d] = true
					count[d]++
				}
			}
		}
	}
	var out []string
	for d, n := range count {
		if n >= min {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ni, nj := districtNumber(out[i]), districtNumber(out[j])
		if ni != nj {
			return ni < nj
		}
		return out[i] < out[j]
	})
	return out
}

func districtNumber(d string) int {
	r := []rune(d)
	n, _ := strconv.Atoi(string(r[1 : len(r)-1]))
	return n
}

// bureau is a city bureau (委办局) and the categories it answers for.
type bureau struct {
	name string
	// tops are the top-level categories it is the default bureau for.
	tops []string
	// subs are level-2/3 category names (or parts of them) that it answers
	// for whatever the top-level; checked before tops, most specific first.
	subs []string
}

// bureaus are the city's 委办局 in a fixed order (codes B001…).
var bureaus = []bureau{
	{name: "市信访局", tops: []string{"党务政务"}},
	{name: "市委宣传部", subs: []string{"宣传舆论", "精神文明建设", "新闻管理", "出版管理", "广播影视管理", "互联网信息监管"}},
	{name: "市委统战部", subs: []string{"统战工作", "港澳台侨", "侨务", "港澳事务", "台湾事务"}},
	{name: "市民族宗教事务委员会", subs: []string{"民族宗教", "宗教事务", "民族政策", "民族事务"}},
	{name: "市外事办公室", subs: []string{"国防外交", "外交外事"}},
	{name: "市纪委监委", tops: []string{"纪检监察"}, subs: []string{"廉政建设", "作风建设"}},
	{name: "市发展和改革委员会", tops: []string{"经济管理"}, subs: []string{"宏观调控", "能源管理", "价格"}},
	{name: "市教育局", tops: []string{"教育文体"}},
	{name: "市科学技术局", tops: []string{"科技与信息产业"}, subs: []string{"科学技术", "知识产权"}},
	{name: "市工业和信息化局", subs: []string{"电信", "信息化建设", "企业破产"}},
	{name: "市公安局", tops: []string{"政法"}, subs: []string{"社会治安", "户籍证件", "交通管理", "刑案侦破", "警务督察", "消防安全"}},
	{name: "市民政局", tops: []string{"民政"}},
	{name: "市司法局", subs: []string{"法律服务", "法制建设", "行政复议", "刑罚执行", "诉讼", "司法调解"}},
	{name: "市财政局", subs: []string{"金融财税", "财政收支", "专项资金使用"}},
	{name: "市人力资源和社会保障局", tops: []string{"劳动和社会保障"}, subs: []string{"劳动仲裁", "人事仲裁", "职业培训"}},
	{name: "市自然资源和规划局", tops: []string{"国土资源"}, subs: []string{"城乡规划", "规划方案", "违章建筑", "土地征收", "集体土地上房屋拆迁与补偿"}},
	{name: "市生态环境局", tops: []string{"环境保护"}},
	{name: "市住房和城乡建设局", tops: []string{"城乡建设"}},
	{name: "市城市管理和综合执法局", subs: []string{"城市建设和市政管理", "城管执法", "环境卫生", "园林绿化"}},
	{name: "市交通运输局", tops: []string{"交通运输"}, subs: []string{"公共汽车", "地铁城铁", "出租车管理"}},
	{name: "市水利局", subs: []string{"水利水电", "水库移民", "防汛抗旱"}},
	{name: "市农业农村局", tops: []string{"农村农业"}, subs: []string{"村镇建设", "新农村建设"}},
	{name: "市林业局", subs: []string{"林业管理", "野生资源管理", "草原草场"}},
	{name: "市商务局", tops: []string{"商贸旅游"}, subs: []string{"商业贸易"}},
	{name: "市文化旅游广电局", subs: []string{"旅游管理", "文化", "文物管理"}},
	{name: "市卫生健康委员会", tops: []string{"卫生计生"}},
	{name: "市医疗保障局", subs: []string{"医疗收费", "城镇居民医疗保险", "职工医疗保险", "新农村合作医疗", "医疗救助", "医保"}},
	{name: "市退役军人事务局", subs: []string{"复退安置", "优抚"}},
	{name: "市应急管理局", subs: []string{"安全生产", "救灾管理", "救灾募捐"}},
	{name: "市国有资产监督管理委员会", subs: []string{"国资监管"}},
	{name: "市市场监督管理局", subs: []string{"市场监管", "质监检验检疫", "食品药品监管", "食品安全"}},
	{name: "市体育局", subs: []string{"体育"}},
	{name: "市住房公积金管理中心", subs: []string{"住房公积金"}},
	{name: "市税务局", subs: []string{"税收征管"}},
	{name: "市邮政管理局", subs: []string{"邮政管理", "快递市场管理"}},
	{name: "市地方金融监督管理局", subs: []string{"保险证券期货", "集资融资", "非法经济活动", "金融管理"}},
}

// streetNames are invented 街道 / 乡镇 names for the direct reporting points.
var streetNames = []string{
	"青枫", "望岳", "金桂", "东湖", "梅溪", "石桥", "白沙", "兴隆", "柳林", "枫林",
	"新河", "银杉", "荷塘", "雨亭", "湘滨", "松柏", "清水塘", "丹桂", "文昌", "五里牌",
	"花桥", "长春", "杨柳", "龙泉", "黄土岭", "芙蓉", "古塘", "金霞", "翠湖", "樟树",
	"双塘", "西园", "太平", "高岭", "新桥", "月湖", "洪塘", "东岸", "南湖", "北山",
}

// buildUnits returns the units: the city level (D00), one per district
// (D01…), 36 bureaus (B001…) and 2–4 direct reporting points per district
// (Z001…).
func buildUnits(districts []string) []Unit {
	units := []Unit{{Code: "D00", Name: CityName, Kind: "district"}}
	for i, d := range districts {
		units = append(units, Unit{Code: fmt.Sprintf("D%02d", i+1), Name: d, Kind: "district", Parent: "D00", District: d})
	}
	for i, b := range bureaus {
		units = append(units, Unit{Code: fmt.Sprintf("B%03d", i+1), Name: b.name, Kind: "bureau", Parent: "D00"})
	}
	z, s := 0, 0
	for i, d := range districts {
		n := 2 + int(hash("points", d)%3)
		r := []rune(d)
		suffix := "街道"
		if r[len(r)-1] != '区' {
			suffix = "镇"
		}
		for k := 0; k < n; k++ {
			z++
			name := streetNames[s%len(streetNames)]
			if s >= len(streetNames) {
				name += strconv.Itoa(s / len(streetNames))
			}
			s++
			units = append(units, Unit{
				Code: fmt.Sprintf("Z%03d", z), Name: d + name + suffix + "信息直报点",
				Kind: "direct", Parent: fmt.Sprintf("D%02d", i+1), District: d,
			})
		}
	}
	return units
}
