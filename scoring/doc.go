// Package scoring is the information-work assessment (信息工作考核): scoring rules as data, one
// versioned rule set per year; scoring events (adoptions at a level, leader endorsements, late or
// missed solicitations, monthly quotas) recorded from the systems that produce them; a ledger with
// one row per scored event and rule version, from which every total is recomputed; and league
// tables (通报) for a month, quarter or year, frozen when published and exported as XLSX and PDF.
//
// A rule change never rewrites history: saving a new version of a year's rules marks that year's
// current ledger rows superseded and appends rows computed with the new version in the same
// transaction. Published league tables keep the rows they were published with.
package scoring
