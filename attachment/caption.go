package attachment

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxCaptionRunes is the longest caption.
const MaxCaptionRunes = 200

// ValidationError lists problems with the upload form by field (caption, file); the web layer
// shows them next to the fields and the API answers 422 validation_failed.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	var parts []string
	for _, f := range []string{"file", "caption"} {
		if m, ok := e.Fields[f]; ok {
			parts = append(parts, m)
		}
	}
	return strings.Join(parts, "；")
}

func fieldError(field, msg string) *ValidationError {
	return &ValidationError{Fields: map[string]string{field: msg}}
}

var (
	// fileExt: something ending in a dot and a file-type extension ("IMG_1234.jpg", "扫描件.PDF").
	fileExt = regexp.MustCompile(`(?i)\.(jpe?g|jfif|png|gif|bmp|tiff?|webp|heic|heif|svg|pdf|docx?|xlsx?|pptx?|wps|et|dps|ofd|txt|rtf|zip|rar|7z)$`)
	// cameraName: the names cameras, phones and chat apps give files ("IMG_1234", "DSC01234",
	// "微信图片_20240301101112", "mmexport1700000000000", "Screenshot_2024-03-01-10-11-12").
	cameraName = regexp.MustCompile(`(?i)^(img|dsc|dscn|dscf|dcim|pxl|mvimg|vid|pic|photo|image|scan|screenshot|mmexport|wx_camera|微信图片|截图|屏幕截图|扫描件?)[\s_\-]*[\d_\-\s.()]+$`)
	// numbery: only digits and separators ("20240301_101112", "1").
	numbery = regexp.MustCompile(`^[\d\s_\-.()]+$`)
)

// NormalizeCaption collapses white space and drops control and format characters.
func NormalizeCaption(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) || unicode.In(r, unicode.Cf) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// CheckCaption validates a caption against the file name it describes. The gov intake rule
// (reference A2): a caption is required and must replace the file name, so a caption equal to the
// file name or its stem, or one that merely looks like a file name, is refused with the reason.
func CheckCaption(caption, filename string) error {
	c := NormalizeCaption(caption)
	switch n := utf8.RuneCountInString(c); {
	case n == 0:
		return fieldError("caption", "请填写图片说明（用一句话说明图片内容，不能用文件名代替）")
	case n > MaxCaptionRunes:
		return fieldError("caption", fmt.Sprintf("图片说明最多 %d 个字（现在 %d 个）", MaxCaptionRunes, n))
	}
	name := SafeName(filename)
	stem, _ := splitExt(name)
	raw := NormalizeCaption(filename)
	if i := strings.LastIndexAny(raw, `/\`); i >= 0 {
		raw = raw[i+1:]
	}
	rawStem, _ := splitExt(raw)
	for _, n := range []string{name, stem, raw, rawStem} {
		if n != "" && n != DefaultName && strings.EqualFold(c, n) {
			return fieldError("caption", "图片说明不能与文件名相同，请用一句话说明图片内容")
		}
	}
	if fileExt.MatchString(c) || cameraName.MatchString(c) || numbery.MatchString(c) {
		return fieldError("caption", fmt.Sprintf("图片说明“%s”看起来是文件名，请用一句话说明图片内容（例如“东湖街道志愿者清理河道”）", c))
	}
	return nil
}
