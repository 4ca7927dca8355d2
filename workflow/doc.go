// Package workflow is the editorial workflow engine. Workflows are data: a Definition lists the
// states of a report, the transitions between them, which roles may take each transition, the
// guards a transition checks (required fields, such as a structured reason for a return) and the
// actions run on entering or leaving a state (notify, assign, tag).
//
// Definitions are versioned rows of workflow_definitions and never change in place; each
// submission keeps the (workflow_name, workflow_version) it started with, so publishing a new
// version affects only items that start afterwards. Service.Transition moves one item in one
// transaction together with its history row, its actions, its outbox row (the index carries the
// state) and its audit row; optimistic concurrency on submissions.version turns a lost race into
// a conflict, never a silent overwrite.
package workflow
