package web

import (
	"fmt"
	"html/template"
	"strings"

	"rsc.io/qr"
)

// qrSVG draws text as a QR code in inline SVG, one rect per run of dark
// modules, with a four-module quiet zone, titled for screen readers; id
// names the title, unique on its page. It is drawn on the server, so the
// page needs no script for it.
func qrSVG(text, title, id string) template.HTML {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "" // a URL too long for a QR code; the address is on the page anyway
	}
	const quiet = 4
	n := code.Size + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="qr-code" viewBox="0 0 %d %d" width="240" height="240" role="img" aria-labelledby="%s" shape-rendering="crispEdges">`,
		n, n, template.HTMLEscapeString(id))
	fmt.Fprintf(&b, `<title id="%s">%s</title><rect width="%d" height="%d" fill="#fff"/>`,
		template.HTMLEscapeString(id), template.HTMLEscapeString(title), n, n)
	for y := 0; y < code.Size; y++ {
		for x := 0; x < code.Size; {
			if !code.Black(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < code.Size && code.Black(x+run, y) {
				run++
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="1" fill="#000"/>`, x+quiet, y+quiet, run)
			x += run
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built here from numbers and escaped text
}
