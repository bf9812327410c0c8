package kernelspec

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
)

// The logo: a white padlock on a Go-blue rounded square, the keyhole cut
// out. Shapes are in unit coordinates (y down) so one description serves
// the PNGs at any size and the SVG.
var (
	goBlue = color.NRGBA{0x00, 0xAD, 0xD8, 0xFF}
	white  = color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}
)

// paint returns the logo's colour at (x, y) and whether it is inside.
func paint(x, y float64) (color.NRGBA, bool) {
	if !inRoundRect(x, y, 0.02, 0.02, 0.98, 0.98, 0.2) {
		return color.NRGBA{}, false
	}
	// keyhole
	if math.Hypot(x-0.5, y-0.6) < 0.06 || (x > 0.47 && x < 0.53 && y > 0.6 && y < 0.73) {
		return goBlue, true
	}
	// body
	if inRoundRect(x, y, 0.26, 0.44, 0.74, 0.82, 0.05) {
		return white, true
	}
	// shackle: the upper half of a ring, with short legs into the body
	r := math.Hypot(x-0.5, y-0.44)
	if y <= 0.44 && r >= 0.12 && r <= 0.19 {
		return white, true
	}
	return goBlue, true
}

func inRoundRect(x, y, x0, y0, x1, y1, rad float64) bool {
	if x < x0 || x > x1 || y < y0 || y > y1 {
		return false
	}
	cx := math.Max(x0+rad, math.Min(x, x1-rad))
	cy := math.Max(y0+rad, math.Min(y, y1-rad))
	return math.Hypot(x-cx, y-cy) <= rad
}

// LogoPNG draws the logo as a size×size PNG, 4×4 supersampled.
func LogoPNG(size int) ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size)
					if c, ok := paint(x, y); ok {
						r += float64(c.R)
						g += float64(c.G)
						b += float64(c.B)
						a++
					}
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{uint8(r / a), uint8(g / a), uint8(b / a), uint8(255 * a / ss / ss)})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// LogoSVG is the same logo as scalable vector graphics.
func LogoSVG() string {
	return `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 100 100">
  <title>enclave</title>
  <rect x="2" y="2" width="96" height="96" rx="20" fill="#00ADD8"/>
  <path d="M31 44 A19 19 0 0 1 69 44 L62 44 A12 12 0 0 0 38 44 Z" fill="#FFFFFF"/>
  <rect x="26" y="44" width="48" height="38" rx="5" fill="#FFFFFF"/>
  <circle cx="50" cy="60" r="6" fill="#00ADD8"/>
  <rect x="47" y="60" width="6" height="13" fill="#00ADD8"/>
</svg>
`
}
