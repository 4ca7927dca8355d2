-- Lotus Notes migration (issue 8). PostgreSQL 12 compatible (KingbaseES V8R6).
-- Reserved; filled in by the work on that issue.
SELECT 1;
