package attachment

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	_ "image/gif"  // register the GIF header decoder for image.DecodeConfig
	_ "image/jpeg" // register the JPEG header decoder
	_ "image/png"  // register the PNG header decoder
	"io"
	"net/http"
	"slices"
	"strings"

	"infowork/extract"
)

// Kind is one accepted file type. Kinds is the allow-list: the only place that says what may
// be uploaded. Office Open XML documents are ZIP archives told apart by their main part; the
// legacy binary formats (.doc, .xls, .wps) are refused with a request to save as DOCX/XLSX, as
// are encrypted Office files (both are Compound File containers).
type Kind struct {
	MIME  string   // as detected from the content and served as Content-Type
	Name  string   // zh-CN name for messages
	Exts  []string // accepted file-name extensions, lower case with the dot; the first is canonical
	Magic [][]byte // the content must start with one of these (none: text, sniffed)
	Image bool     // decoded with image.DecodeConfig; previewable inline
	Part  string   // Office Open XML: the part that identifies the kind inside the archive
	Pages bool     // previewed as page images (PDF and images); otherwise as HTML
}

var zipMagic = [][]byte{[]byte("PK\x03\x04")}

// Kinds is the allow-list of upload types.
var Kinds = []Kind{
	{MIME: "image/jpeg", Name: "JPEG 图片", Exts: []string{".jpg", ".jpeg"}, Magic: [][]byte{{0xFF, 0xD8, 0xFF}}, Image: true},
	{MIME: "image/png", Name: "PNG 图片", Exts: []string{".png"}, Magic: [][]byte{[]byte("\x89PNG\r\n\x1a\n")}, Image: true},
	{MIME: "image/gif", Name: "GIF 图片", Exts: []string{".gif"}, Magic: [][]byte{[]byte("GIF87a"), []byte("GIF89a")}, Image: true},
	{MIME: "application/pdf", Name: "PDF 文档", Exts: []string{".pdf"}, Magic: [][]byte{[]byte("%PDF-")}, Pages: true},
	{MIME: extract.MIMEDOCX, Name: "Word 文档", Exts: []string{".docx"}, Magic: zipMagic, Part: "word/document.xml"},
	{MIME: extract.MIMEXLSX, Name: "Excel 工作簿", Exts: []string{".xlsx"}, Magic: zipMagic, Part: "xl/workbook.xml"},
	{MIME: extract.MIMEPPTX, Name: "PowerPoint 演示文稿", Exts: []string{".pptx"}, Magic: zipMagic, Part: "ppt/presentation.xml"},
	{MIME: extract.MIMEText, Name: "纯文本", Exts: []string{".txt"}},
	{MIME: extract.MIMEHTML, Name: "网页", Exts: []string{".html", ".htm"}},
}

func init() {
	for i := range Kinds {
		if Kinds[i].Image {
			Kinds[i].Pages = true
		}
	}
}

// IsDocument reports whether the kind is a document (not an image): the larger size limit.
func (k Kind) IsDocument() bool { return !k.Image }

// KindOf returns the allowed kind whose MIME type is mime.
func KindOf(mime string) (Kind, bool) {
	for _, k := range Kinds {
		if k.MIME == mime {
			return k, true
		}
	}
	return Kind{}, false
}

// AcceptList is the HTML accept attribute of upload inputs (a hint; the server decides).
func AcceptList() string {
	var exts []string
	for _, k := range Kinds {
		exts = append(exts, k.Exts...)
	}
	return strings.Join(exts, ",")
}

// AllowedNames lists the accepted types for messages: "JPG、JPEG、PNG、GIF、PDF".
func AllowedNames() string {
	var exts []string
	for _, k := range Kinds {
		for _, e := range k.Exts {
			exts = append(exts, strings.ToUpper(strings.TrimPrefix(e, ".")))
		}
	}
	return strings.Join(exts, "、")
}

// MaxPixels is the default limit on width × height of an image (decompression bombs: a small
// PNG can declare a huge canvas).
const MaxPixels = 40_000_000

// Errors of file checks; the web layer maps them to HTTP statuses. The wrapped message is the
// zh-CN reason shown to the user (Reason).
var (
	ErrTooLarge    = errors.New("file too large")         // 413
	ErrUnsupported = errors.New("unsupported media type") // 415
	ErrMalformed   = errors.New("malformed file")         // 422, field file
)

// reasonError carries a user-facing reason and a sentinel.
type reasonError struct {
	kind   error
	reason string
}

func (e *reasonError) Error() string { return e.kind.Error() + ": " + e.reason }
func (e *reasonError) Unwrap() error { return e.kind }

func refuse(kind error, format string, args ...any) error {
	return &reasonError{kind: kind, reason: fmt.Sprintf(format, args...)}
}

// Reason returns the zh-CN reason of a refusal made by this package, or "".
func Reason(err error) string {
	var re *reasonError
	if errors.As(err, &re) {
		return re.reason
	}
	return ""
}

// Detect decides the kind of a file from its first bytes (at least 512 when the file has them):
// net/http.DetectContentType (the WHATWG sniffing algorithm) and the kind's magic number must
// both agree, so an HTML page named photo.png, or a file that merely mentions an image type, is
// refused.
//
// A ZIP archive answers the DOCX kind here; CheckStructure reads the archive and Check refines
// the kind by its main part. A Compound File (legacy or encrypted Office) is refused with the
// reason.
func Detect(head []byte) (Kind, error) {
	if bytes.HasPrefix(head, cfbMagic) {
		return Kind{}, refuse(ErrUnsupported, "这是旧版 Office 格式（.doc/.xls/.ppt/.wps）或受密码保护的 Office 文件，请去除密码并另存为 DOCX/XLSX/PPTX 后再上传")
	}
	sniffed := http.DetectContentType(head)
	mime, _, _ := strings.Cut(sniffed, ";")
	mime = strings.TrimSpace(mime)
	if mime == "application/zip" {
		mime = extract.MIMEDOCX
	}
	k, ok := KindOf(mime)
	if ok && (len(k.Magic) == 0 || slices.ContainsFunc(k.Magic, func(m []byte) bool { return bytes.HasPrefix(head, m) })) {
		return k, nil
	}
	what := mime
	switch {
	case strings.HasPrefix(mime, "text/xml"):
		what = mime + "（网页或脚本）"
	case mime == "application/octet-stream":
		what = "无法识别的二进制内容"
	}
	return Kind{}, refuse(ErrUnsupported, "文件内容是 %s，只接受 %s 格式", what, AllowedNames())
}

// CheckExtension refuses a file name whose extension disagrees with the detected kind. A name
// without an extension is accepted (the download name gets the canonical one).
func CheckExtension(k Kind, filename string) error {
	_, ext := splitExt(SafeName(filename))
	if ext == "" {
		return nil
	}
	if !slices.Contains(k.Exts, strings.ToLower(ext)) {
		return refuse(ErrUnsupported, "文件扩展名 %s 与文件内容（%s）不符，请上传原始文件，不要修改扩展名", ext, k.Name)
	}
	return nil
}

var cfbMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// Info is what the structural check learned.
type Info struct {
	Width, Height int  // images only
	Kind          Kind // Office Open XML: the kind the archive's main part shows
}

// Check detects the kind from the content (Detect, refined for Office archives), compares the
// file name's extension and checks the structure.
func Check(r io.ReadSeeker, size int64, filename string, maxPixels int64) (Kind, Info, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Kind{}, Info{}, fmt.Errorf("attachment: read file: %w", err)
	}
	kind, err := Detect(head[:n])
	if err != nil {
		return Kind{}, Info{}, err
	}
	info, err := CheckStructure(kind, r, size, maxPixels)
	if err != nil {
		return Kind{}, Info{}, err
	}
	if info.Kind.MIME != "" {
		kind = info.Kind
	}
	if err := CheckExtension(kind, filename); err != nil {
		return Kind{}, Info{}, err
	}
	return kind, info, nil
}

// CheckStructure reads the whole file and refuses truncated or malformed content without
// decoding pixels (decoding would let a small file allocate a huge canvas): image headers via
// image.DecodeConfig with a pixel limit, PNG chunk CRCs up to IEND, the JPEG end-of-image marker,
// the GIF trailer, the PDF %%EOF marker.
func CheckStructure(k Kind, r io.ReadSeeker, size int64, maxPixels int64) (Info, error) {
	var info Info
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return info, err
	}
	if k.Image {
		cfg, format, err := image.DecodeConfig(bufio.NewReader(r))
		if err != nil {
			return info, refuse(ErrMalformed, "图片已损坏或不完整，无法读取图片头（%s）", k.Name)
		}
		if "image/"+format != k.MIME {
			return info, refuse(ErrMalformed, "图片格式与内容不符")
		}
		if cfg.Width <= 0 || cfg.Height <= 0 {
			return info, refuse(ErrMalformed, "图片尺寸无效（%d×%d）", cfg.Width, cfg.Height)
		}
		if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
			return info, refuse(ErrMalformed, "图片尺寸过大（%d×%d，超过 %d 万像素），请缩小后再上传", cfg.Width, cfg.Height, maxPixels/10000)
		}
		info.Width, info.Height = cfg.Width, cfg.Height
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return info, err
	}
	var err error
	switch k.MIME {
	case "image/png":
		err = checkPNG(bufio.NewReader(r))
	case "image/jpeg":
		err = checkTail(r, size, "JPEG", func(tail []byte) bool {
			tail = bytes.TrimRight(tail, "\x00")
			return bytes.HasSuffix(tail, []byte{0xFF, 0xD9})
		})
	case "image/gif":
		err = checkTail(r, size, "GIF", func(tail []byte) bool { return bytes.HasSuffix(tail, []byte{0x3B}) })
	case "application/pdf":
		err = checkTail(r, size, "PDF", func(tail []byte) bool { return bytes.Contains(tail, []byte("%%EOF")) })
	case extract.MIMEDOCX, extract.MIMEXLSX, extract.MIMEPPTX:
		info.Kind, err = checkOffice(r, size)
	}
	if err != nil {
		return info, err
	}
	return info, nil
}

// checkOffice reads the archive directory (refusing zip bombs and encrypted entries before
// anything is inflated) and tells the kind by its main part.
func checkOffice(r io.ReadSeeker, size int64) (Kind, error) {
	ra, ok := r.(io.ReaderAt)
	if !ok {
		return Kind{}, errors.New("attachment: office check needs an io.ReaderAt")
	}
	a, err := extract.OpenArchive(ra, size, extract.Limits{})
	if err != nil {
		return Kind{}, refuse(ErrMalformed, "%s", extract.Reason(err))
	}
	for _, k := range Kinds {
		if k.Part != "" && a.Has(k.Part) {
			return k, nil
		}
	}
	return Kind{}, refuse(ErrUnsupported, "压缩包不是 Word、Excel 或 PowerPoint 文档，只接受 %s 格式", AllowedNames())
}

func truncated(k string) error {
	return refuse(ErrMalformed, "文件不完整（%s 缺少结束标记），可能上传中断或文件已损坏", k)
}

// checkPNG walks the chunks, verifying each CRC, and requires IEND as the last chunk.
func checkPNG(r *bufio.Reader) error {
	if _, err := r.Discard(8); err != nil {
		return truncated("PNG")
	}
	hdr := make([]byte, 8)
	for n := 0; ; n++ {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return truncated("PNG")
		}
		length := binary.BigEndian.Uint32(hdr[:4])
		if length > 1<<31-1 {
			return refuse(ErrMalformed, "PNG 数据块长度无效")
		}
		crc := crc32.NewIEEE()
		_, _ = crc.Write(hdr[4:8]) // hash.Hash writes never fail
		if _, err := io.CopyN(crc, r, int64(length)); err != nil {
			return truncated("PNG")
		}
		var sum [4]byte
		if _, err := io.ReadFull(r, sum[:]); err != nil {
			return truncated("PNG")
		}
		if binary.BigEndian.Uint32(sum[:]) != crc.Sum32() {
			return refuse(ErrMalformed, "PNG 数据块校验失败，文件已损坏")
		}
		if string(hdr[4:8]) == "IEND" {
			if _, err := r.ReadByte(); err != io.EOF {
				return refuse(ErrMalformed, "PNG 结束标记之后还有多余数据")
			}
			return nil
		}
	}
}

// checkTail reads the last bytes of the file and applies ok.
func checkTail(r io.ReadSeeker, size int64, name string, ok func([]byte) bool) error {
	n := min(size, 1024)
	if _, err := r.Seek(size-n, io.SeekStart); err != nil {
		return err
	}
	tail := make([]byte, n)
	if _, err := io.ReadFull(r, tail); err != nil {
		return refuse(ErrMalformed, "文件读取失败")
	}
	if !ok(tail) {
		return truncated(name)
	}
	return nil
}
