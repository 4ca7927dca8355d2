package demo

import (
	"fmt"
	"strconv"

	"github.com/xuri/excelize/v2"
)

// categoryRow is one row of the category tree file: 一级分类 | 二级分类 | 三级分类.
type categoryRow [3]string

// rawCells is passed to every row read: raw values, so numeric cells such
// as Excel serial times arrive unformatted ("43563.359259259261").
var rawCells = excelize.Options{RawCellValue: true}

// sheetRows streams the first sheet of the workbook at path and calls fn for
// every row after the header with the cells of the wanted columns (in the
// order of names; "" where a column is absent). Required names must be in
// the header. Rows with no non-empty wanted cell are counted, not passed.
func sheetRows(path string, names []string, required map[string]bool, fn func(row int, cells []string)) (empty int, err error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return 0, fmt.Errorf("demo: open %s: %w", path, err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return 0, fmt.Errorf("demo: %s has no sheet", path)
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		return 0, fmt.Errorf("demo: read %s: %w", path, err)
	}
	defer rows.Close()

	idx := make([]int, len(names)) // column index per wanted name, -1 if absent
	header := true
	cells := make([]string, len(names))
	row := 0
	for rows.Next() {
		row++
		cols, err := rows.Columns(rawCells)
		if err != nil {
			return empty, fmt.Errorf("demo: read %s row %d: %w", path, row, err)
		}
		if header {
			if len(cols) == 0 {
				continue // leading blank rows
			}
			header = false
			pos := map[string]int{}
			for i, c := range cols {
				if n := Clean(c); n != "" {
					if _, dup := pos[n]; !dup {
						pos[n] = i
					}
				}
			}
			for i, n := range names {
				j, ok := pos[n]
				if !ok {
					if required[n] {
						return 0, fmt.Errorf("demo: %s has no column %q in its header row", path, n)
					}
					j = -1
				}
				idx[i] = j
			}
			continue
		}
		any := false
		for i, j := range idx {
			cells[i] = ""
			if j >= 0 && j < len(cols) {
				cells[i] = cols[j]
				if cells[i] != "" {
					any = true
				}
			}
		}
		if !any {
			empty++
			continue
		}
		fn(row, cells)
	}
	if err := rows.Error(); err != nil {
		return empty, fmt.Errorf("demo: read %s: %w", path, err)
	}
	if header {
		return 0, fmt.Errorf("demo: %s is empty", path)
	}
	return empty, nil
}

// Column headers of the message files.
const (
	colID    = "留言编号"
	colTitle = "留言主题"
	colTime  = "留言时间"
	colBody  = "留言详情"
	colReply = "答复意见"
	colLabel = "一级分类"
)

// readMessageFile reads one message spreadsheet; prefix names the file in
// SourceIDs ("sheet3:188006"). A row without 留言编号 gets "<prefix>:r<row>".
func readMessageFile(path, prefix string) ([]rawMessage, []string, error) {
	names := []string{colID, colTitle, colTime, colBody, colReply, colLabel}
	required := map[string]bool{colTitle: true, colTime: true, colBody: true}
	var out []rawMessage
	empty, err := sheetRows(path, names, required, func(row int, c []string) {
		id := Clean(c[0])
		if id == "" {
			id = "r" + strconv.Itoa(row)
		}
		out = append(out, rawMessage{
			id: prefix + ":" + id, title: c[1], timeRaw: c[2], body: c[3], reply: c[4], label: c[5],
		})
	})
	if err != nil {
		return nil, nil, err
	}
	var warns []string
	if empty > 0 {
		warns = append(warns, fmt.Sprintf("%s: ignored %d empty rows", prefix, empty))
	}
	return out, warns, nil
}

// readCategoryFile reads the category tree (一级分类 | 二级分类 | 三级分类).
func readCategoryFile(path string) ([]categoryRow, error) {
	names := []string{"一级分类", "二级分类", "三级分类"}
	required := map[string]bool{"一级分类": true, "二级分类": true, "三级分类": true}
	var out []categoryRow
	_, err := sheetRows(path, names, required, func(_ int, c []string) {
		out = append(out, categoryRow{Clean(c[0]), Clean(c[1]), Clean(c[2])})
	})
	return out, err
}
