// Package desk is the editors' desk: queues of reports by workflow state with their age,
// assignment to a person, soft locks (a holder and an expiry, shown to everyone, released by the
// holder or by a signer's audited privileged unlock), comments with @mentions, due dates with an
// overdue flag computed at query time, the in-app notification inbox, and the delivery of
// notifications through pluggable senders (SMTP e-mail, webhook).
//
// Every read goes through access.Predicate inside a transaction with access.SetLocal, so queues,
// counts and comments show only what the user may read. Desk changes are not content: they bump
// neither the item's version nor the search index; the workflow engine owns state changes.
package desk
