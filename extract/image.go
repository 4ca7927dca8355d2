package extract

import (
	"bytes"
	"image"
	_ "image/gif"  // decoders for previews
	_ "image/jpeg" // of scanned images
	"image/png"
	"os"

	"golang.org/x/image/draw"
)

// scaleImage decodes an image (the upload check already bounded its pixel count) and encodes it
// as a PNG of the given width.
func scaleImage(path string, width int) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- a blob path chosen by the caller
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		return nil, unreadable("图片已损坏，无法生成预览")
	}
	b := src.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, unreadable("图片尺寸无效")
	}
	width = min(width, b.Dx())
	height := max(1, b.Dy()*width/b.Dx())
	dst := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var out bytes.Buffer
	if err := png.Encode(&out, dst); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
