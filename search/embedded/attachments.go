package embedded

import (
	"github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"

	"infowork/search"
)

// Attachment fields (layout v6): the text of each attachment is one value of att_text at its
// own array position, so a phrase never spans two files; att_id and att_name are stored at the
// same positions.
const (
	fAttText  = "att_text"
	fAttID    = "att_id"
	fAttName  = "att_name"
	attBoost  = 0.5 // a word in an attached file ranks below the same word in the report itself
	maxAttach = 50  // attachments indexed per record
)

// addAttachments indexes the attachment texts of d.
func (e *Engine) addAttachments(doc *document.Document, d *search.Document) {
	for i, a := range d.Attachments {
		if i >= maxAttach {
			break
		}
		pos := []uint64{uint64(i)}
		doc.AddField(e.textField(fAttText, pos, search.ClipAttachmentText(a.Text)))
		doc.AddField(document.NewTextFieldWithIndexingOptions(fAttID, pos, []byte(a.ID), storedOpts))
		doc.AddField(document.NewTextFieldWithIndexingOptions(fAttName, pos, []byte(a.Name), storedOpts))
	}
}

// setAttachmentHits names, for each hit with attachments (withAtt), the first attachment whose
// text holds a query term and highlights the passage. The stored attachment fields of those
// hits are read again, with their array positions, which pair each text with its file.
func (e *Engine) setAttachmentHits(hits []search.Hit, withAtt []bool, terms []string) {
	if len(terms) == 0 {
		return
	}
	for i := range hits {
		if !withAtt[i] {
			continue
		}
		doc, err := e.idx.Document(hits[i].ID)
		if err != nil || doc == nil {
			continue
		}
		byPos := map[uint64]*search.AttachmentText{}
		var order []uint64
		doc.VisitFields(func(f index.Field) {
			ap := f.ArrayPositions()
			if len(ap) != 1 {
				return
			}
			var a *search.AttachmentText
			switch f.Name() {
			case fAttText, fAttID, fAttName:
				a = byPos[ap[0]]
				if a == nil {
					a = &search.AttachmentText{}
					byPos[ap[0]] = a
					order = append(order, ap[0])
				}
			default:
				return
			}
			switch f.Name() {
			case fAttText:
				a.Text = string(f.Value())
			case fAttID:
				a.ID = string(f.Value())
			case fAttName:
				a.Name = string(f.Value())
			}
		})
		if len(order) == 0 {
			continue
		}
		atts := make([]search.AttachmentText, 0, len(order))
		for p := uint64(0); len(atts) < len(order) && p < maxAttach; p++ {
			if a := byPos[p]; a != nil {
				atts = append(atts, *a)
			}
		}
		hits[i].Attachment = search.MatchAttachment(e.an, atts, terms, snippetRunes)
	}
}
