-- Editorial desk: assignment, soft locks, comments, due dates (issue 5). PostgreSQL 12 compatible (KingbaseES V8R6).
-- Reserved; filled in by the work on that issue.
SELECT 1;
