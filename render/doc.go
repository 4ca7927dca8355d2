// Package render turns a signed periodical issue (刊物一期) into its outputs: the HTML print
// view, a print-ready PDF and a DOCX, in the official layout — 版头 (red title, year and running
// issue number, issuing organ, date), the classification marking on every page, page numbers,
// and 版记 with the distribution list.
//
// The PDF is printed by headless Chromium (chromedp, Page.printToPDF) from the same HTML as the
// print view; the marking and the page number are Chromium's header and footer templates, so
// they appear on every page. Text is set in WenQuanYi Micro Hei (fonts-wqy-microhei), a font
// installed with the deployment; nothing is fetched from the network. The DOCX is OOXML written
// with archive/zip from templates, with fixed zip timestamps: the same Issue gives the same
// bytes. The PDF does not: Chromium writes the creation time and a document id into it, so a
// regenerated PDF differs in those bytes only; the text extracted from it is the same (tested).
// That is why outputs are rendered once at sign-off and stored with their SHA-256.
package render
