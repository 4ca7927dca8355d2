// Package extract turns the bytes of an attachment into searchable text and preview images
// (issue 11): Office Open XML (DOCX, XLSX, PPTX) read with archive/zip and encoding/xml, PDF text
// layers through poppler's pdftotext, scanned images and image-only PDFs through Tesseract's
// simplified-Chinese model, plain text and HTML with their encodings detected (UTF-8, UTF-16 by
// BOM, GB18030/GBK).
//
// Every file is hostile until proven otherwise, so extraction never runs in the server: Runner
// starts a child process (`infowork extract`, see Child) in its own process group with
// resource limits (address space, CPU seconds, file size, open files) set by the child on
// itself before it reads the file, and a wall-clock timeout after which the parent kills the
// whole group (the child and any pdftotext, pdftoppm or tesseract it started). A file that
// exhausts its limits ends as an error with a zh-CN reason, recorded by the caller; the server
// process only ever reads a bounded JSON answer or a bounded PNG from the child.
//
// Inside the child, archives are read with limits on the number of entries, on each part's
// inflated size and on the total (zip bombs), and a part whose declared compression ratio is
// absurd is refused before it is inflated.
package extract
