// Package notes migrates a Lotus Notes/Domino database into infowork without loss and keeps it in
// step during the cut-over (docs/notes-migration.md).
//
// Parse streams DXL (whole-database exports and single notes, with or without the DXL namespace,
// UTF-8 or GBK/GB18030) one document at a time, with the original text of each. Importer writes
// each document in one transaction: the mapped record (a submissions row, through the outbox like
// any other record, with a readers list that grants no more than Notes did), every item as
// exported, attachments and pictures byte-exact in the content-addressed blob store, the original
// DXL for audit. Identity is the UNID and the sequence number the version, so re-imports are
// no-ops and older versions never overwrite newer ones. Every run ends with a verification
// Report that recomputes a canonical hash of each document from what the database and the blob
// store hold. Syncer polls Domino Access Services (and/or a drop folder) from a checkpoint in the
// server's time, reconciles UNID sets for deletions and reports changes made on both sides.
package notes
