// Package ratelimit counts requests per key in fixed time windows kept in PostgreSQL, so that
// every web replica sees the same counts (a per-process limiter behind a load balancer lets each
// replica grant the full allowance). One statement per check: an upsert that returns the new
// count. The database clock decides the window, so replicas with skewed clocks still agree.
package ratelimit
