// Package draft is the city office's drafts (稿件): an editor turns one or more reports into a
// draft, edits it, and adopts it; merging several reports into one draft is 合稿.
//
// Provenance. A draft keeps links to its reports (draft_sources) and, for every revision, the
// spans of its text taken from each report (draft_spans), found by matching the revision's text
// against each source's text (runs of at least MinSpanRunes identical characters after
// normalization, see spans.go). Editors never tag spans by hand: whatever survives of a report's
// wording in the adopted text is that report's contribution.
//
// Credit. Adopting a draft credits every report that contributed at least MinCreditRunes
// characters to the adopted revision: a single contributing report is adopted (采用), several
// are each merged-adopted (综合采用). The credit is given by the report's own workflow
// transitions (review if it was still waiting, then adopt or merge), so it appears in the
// report's history, notifications, audit log and search index like any editor's decision, and a
// draft_credits row ties it to the draft. Reports linked but no longer contributing are left in
// their state (the editor files or returns them). Adoption is one transaction
// (workflow.TransitionTx): the draft's state and every credit commit together, and a refused
// credit rolls all of it back (*SourceError names the report).
//
// Revisions are immutable (a trigger refuses UPDATE and DELETE); restoring an old revision
// appends a new one. Saves are optimistic: a save based on an older version gets a
// *ConflictError carrying the current revision and the other editor's changes. Nothing is ever
// deleted: a withdrawn draft is archived with its history.
//
// Drafts are not in the search index: they are the office's working copies, found on the drafts
// page (newest first, filter by state). What the public record needs — that a report was
// adopted or merged — is on the report, which is indexed. (docs/editorial.md)
package draft
