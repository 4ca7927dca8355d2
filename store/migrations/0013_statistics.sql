-- Statistics, scoring ledger, saved searches, subscriptions, exports (issue 7). PostgreSQL 12 compatible (KingbaseES V8R6).
-- Reserved; filled in by the work on that issue.
SELECT 1;
