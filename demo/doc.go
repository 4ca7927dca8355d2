// Package demo builds the demo data set of infowork: reporting units, a
// three-level category tree and several thousand real citizen messages
// (民情信息) with a reporting unit, category, district, classification and
// urgency assigned to each. It is pure data: it knows nothing about the
// database or the search engine; the `infowork demo` subcommand feeds the
// Dataset into the normal write path.
//
// # Data source
//
// The messages are the 2020 TipDM Cup (泰迪杯) "智慧政务" competition data: 7,637
// real messages posted to a provincial "ask the government" web platform,
// with place names anonymised by the organiser (A市 is the city, A1区…A9市 its
// districts and counties; B市, K1区 … are other places in the same province).
// They live outside the repository in ../shared/corpus/civic-messages (see
// its SOURCE.txt):
//
//	Rollbear-bot/full_dataset_sheet_3.xlsx  附件3, 4,326 messages       → SourceID "sheet3:<留言编号>"
//	Rollbear-bot/full_dataset_sheet_4.xlsx  附件4, 2,816 with replies   → SourceID "sheet4:<留言编号>"
//	694035434/附件2.xlsx                    附件2 sample, 495 labelled  → SourceID "sheet2:<留言编号>"
//	Rollbear-bot/full_dataset_sheet_1.xlsx  附件1, category tree 一级/二级/三级分类
//
// # Why the corpus is read at run time
//
// No licence is stated for the data; it was distributed by the competition
// organiser for research and testing, not for redistribution. The project
// therefore never copies it into the repository or into the binary: Load
// reads the .xlsx files from the corpus folder every time. Without that
// folder Load falls back to a small sample of ~30 invented messages written
// for this project (sample/sample.json, embedded) and says so in
// Dataset.Warnings; this is not an error, so `make run` works on any machine.
//
// # What is read and how
//
// Sheets are streamed with excelize's row iterator (memory stays bounded;
// 附件2.xlsx declares 65,203 rows of which 64,707 are empty and skipped).
// Columns are found by header name (留言编号, 留言主题, 留言时间, 留言详情,
// 答复意见, 一级分类), never by position. Raw cell values are used, so the 129
// times stored as Excel serial numbers arrive as "43563.359259259261" and
// are converted by ParseTime. Every text cell goes through Clean (HTML
// indentation, U+3000, no-break spaces, CRLF). Rows without a title, body or
// parseable time are skipped and counted in Dataset.Warnings; duplicates by
// (title, time) across files are merged (the first is kept, a missing reply
// or label is taken from the later copy).
//
// # What is invented
//
// The corpus has no reporting units, classification or urgency, so these are
// assigned deterministically from an FNV hash of the SourceID (no global
// random state: the same inputs always give the same Dataset, and a message
// keeps its assignment whatever limit is used):
//
//   - Units: a city-level unit "A市" (D00), one unit per district found in the
//     text (D01…, names matching A<n>区/县/市 mentioned by at least a few
//     messages), 2–4 invented 街道/乡镇 信息直报点 per district (Z001…), and 36
//     city bureaus 委办局 (B001…).
//   - District: the first A-city district named in the title, else in the
//     body; "" means city-wide (this includes messages about other cities of
//     the province, which the city office would receive via the platform).
//   - Category: 附件2 messages carry a top-level label (一级分类); the level-2/3
//     category under it is chosen by matching category names against the
//     text. Other messages are scored against every category name plus a
//     keyword table per top-level category (学校/老师→教育文体, 小区/物业→城乡建设
//     …). Without any match a category is picked by hash. CategoryCode is
//     always a level-2 or level-3 code (C01.03 / C01.03.002).
//   - Unit: a message with a district goes ~60% to that district's government
//     or one of its direct reporting points and ~40% to the bureau in charge
//     of its category; city-wide messages go to that bureau.
//   - Classification ≈ 70% public, 20% internal, 8% secret, 2% confidential;
//     urgency ≈ 85% normal, 12% urgent, 3% very_urgent.
//
// Messages are ordered newest first (ties by SourceID); Load's limit keeps
// the newest N.
package demo
