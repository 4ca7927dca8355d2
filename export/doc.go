// Package export writes search results and statistics to CSV or XLSX files as background jobs.
//
// A job is a row in export_jobs with its progress (rows written of the total), so any web
// replica can show it. Rows are streamed: from the database under the reader's access predicate
// when the search has no keywords, from the search engine otherwise, splitting the search by
// month and then by day so that no request goes past the engine's result window; a day with more
// hits than the window fails the job with a clear message instead of truncating it. There is no
// row limit. Every file is labelled with the highest classification it contains (in the first
// row, the XLSX header and footer and the file name), and starting, finishing and downloading an
// export are audited.
package export
