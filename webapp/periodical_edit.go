package webapp

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/label"
	"infowork/periodical"
)

// Editing a periodical definition (docs/periodicals.md, "Editing a definition"): GET shows the
// form with the section editor and the audited history, POST applies it.

type sectionRow struct {
	Index    int
	From, To string
	Retire   bool
	Uses     int // issues that have items in it
	Order    int
	New      bool
}

type periodicalEditData struct {
	P           periodical.Periodical
	Version     string
	Name        string
	Level       string
	Frequency   string
	Class       string
	Masthead    string
	Footer      string
	Distrib     string
	Signer      string
	NextTotal   int
	Rows        []sectionRow
	Retired     []sectionRow
	History     []periodical.Change
	Levels      []string
	Frequencies []string
	ClassLevels []label.Level
}

func (a *App) periodicalEditView(c *fiber.Ctx, status int, id int64, msg string, posted *periodical.PeriodicalUpdate) error {
	sub := sessionOf(c).User.Subject()
	svc := a.periodicals()
	ctx := c.UserContext()
	p, err := svc.Periodical(ctx, id)
	if err != nil || !sub.Clearance.Dominates(p.Classification) {
		return periodicalError(periodical.ErrNotFound)
	}
	hist, err := svc.History(ctx, sub, p, 50)
	if err != nil {
		return periodicalError(err)
	}
	use, err := svc.SectionUse(ctx, id)
	if err != nil {
		return err
	}
	d := periodicalEditData{P: p, Version: p.Version(), Name: p.Name, Level: p.Level, Frequency: p.Frequency, Class: p.Classification.String(),
		Masthead: p.MastheadOrg, Footer: p.FooterNote, Distrib: strings.Join(p.Distribution, "\n"), Signer: p.SignerUsername,
		NextTotal: p.LastTotal + 1, History: hist, Levels: periodical.Levels, Frequencies: periodical.Frequencies, ClassLevels: label.Levels}
	for i, s := range p.Sections {
		d.Rows = append(d.Rows, sectionRow{From: s, To: s, Uses: use[s], Order: i + 1})
	}
	if posted != nil { // show what was typed, with the reason it was refused
		d.Name, d.Level, d.Frequency, d.Class = posted.Name, posted.Level, posted.Frequency, posted.Classification.String()
		d.Masthead, d.Footer, d.Distrib, d.Signer = posted.MastheadOrg, posted.FooterNote, strings.Join(posted.Distribution, "\n"), posted.SignerUsername
		if posted.NextTotal > 0 {
			d.NextTotal = posted.NextTotal
		}
		d.Rows = nil
		for i, r := range posted.Sections {
			if r.From == "" && r.To == "" {
				continue
			}
			d.Rows = append(d.Rows, sectionRow{From: r.From, To: r.To, Retire: r.Retire, Uses: use[r.From], Order: i + 1, New: r.From == ""})
		}
	}
	for _, r := range periodical.RetiredSections(p, use) {
		d.Retired = append(d.Retired, sectionRow{From: r, Uses: use[r]})
	}
	for i := 0; i < 3; i++ { // empty rows for new sections
		d.Rows = append(d.Rows, sectionRow{Order: len(d.Rows) + 1, New: true})
	}
	for i := range d.Rows {
		d.Rows[i].Index = i
	}
	return a.render(c, status, "periodical_edit", page{Title: "修改刊物《" + p.Name + "》", Nav: "periodicals", Error: msg, Data: d})
}

func (a *App) periodicalEdit(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	if !sub.Has(access.RoleEditor) && !sub.Has(access.RoleSigner) {
		return periodicalError(periodical.ErrForbidden)
	}
	return a.periodicalEditView(c, fiber.StatusOK, idParam(c, "id"), "", nil)
}

// parseSectionRows reads the section editor: rows from_N / to_N / retire_N / order_N; the new
// order is the order numbers typed (ties keep the rows' order).
func parseSectionRows(c *fiber.Ctx) []periodical.SectionChange {
	type row struct {
		order, index int
		ch           periodical.SectionChange
	}
	var rows []row
	for i := 0; i < 200; i++ {
		k := strconv.Itoa(i)
		from, to, ord := c.FormValue("from_"+k), c.FormValue("to_"+k), c.FormValue("order_"+k)
		if from == "" && to == "" && ord == "" && c.FormValue("retire_"+k) == "" {
			if c.FormValue("order_"+strconv.Itoa(i+1)) == "" {
				break
			}
			continue
		}
		o, err := strconv.Atoi(strings.TrimSpace(ord))
		if err != nil {
			o = i + 1
		}
		rows = append(rows, row{order: o, index: i, ch: periodical.SectionChange{From: from, To: to, Retire: c.FormValue("retire_"+k) != ""}})
	}
	// Stable by the typed order.
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && (rows[j].order < rows[j-1].order || rows[j].order == rows[j-1].order && rows[j].index < rows[j-1].index); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
	out := make([]periodical.SectionChange, len(rows))
	for i, r := range rows {
		out[i] = r.ch
	}
	return out
}

func (a *App) periodicalUpdate(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	id := idParam(c, "id")
	in := periodical.PeriodicalUpdate{Version: c.FormValue("version"), Name: c.FormValue("name"), Level: c.FormValue("level"),
		Frequency: c.FormValue("frequency"), MastheadOrg: c.FormValue("masthead_org"), FooterNote: c.FormValue("footer_note"),
		Distribution: periodical.SplitList(c.FormValue("distribution")), Sections: parseSectionRows(c), SignerUsername: c.FormValue("signer")}
	cl, err := label.Parse(c.FormValue("classification"))
	if err != nil {
		in.Classification = -1 // refused below with the other fields
	} else {
		in.Classification = cl
	}
	if v := strings.TrimSpace(c.FormValue("next_total")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			n = -1
		}
		in.NextTotal = n
	}
	if _, err := a.periodicals().UpdatePeriodical(c.UserContext(), sub, id, in, a.clientIPOf(c)); err != nil {
		herr := periodicalError(err)
		if he, ok := herr.(*httpError); ok && (he.status == http.StatusUnprocessableEntity || he.status == http.StatusConflict) {
			return a.periodicalEditView(c, he.status, id, he.message, &in)
		}
		return herr
	}
	return c.Redirect("/periodicals?flash=updated", fiber.StatusSeeOther)
}
