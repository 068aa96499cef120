package web

// Charts for the therapist's patient page, drawn on the server as inline SVG:
// no script, no inline style (colours come from classes in pacer.css, so the
// CSP holds), role="img" with a <title> and <desc> for screen readers. The
// page puts the same numbers in a table beside each chart.

import (
	"fmt"
	"html/template"
	"strings"
)

// Chart geometry in SVG user units; the SVG scales to its container. It is
// about as wide as a phone's screen, so that its 12-unit labels read at
// about 12 px there; a wide screen shows two charts side by side.
const (
	chartW      = 400
	chartH      = 240
	chartLeft   = 44 // room for the y-axis labels
	chartRight  = 12
	chartTop    = 48 // room for the legend and the unit
	chartBottom = 28 // room for the week labels
)

// chartText is a chart's words, from the catalogue.
type chartText struct {
	Title, Desc string
	Series      []string // legend labels, one per series
	Week        func(n int) string
}

// loadWeek is one week's planned and completed load of one activity.
type loadWeek struct {
	Week          int
	Planned, Done int
}

// signalWeek is one week's average pain and weekly function and confidence,
// 0-10; a negative value means none was logged.
type signalWeek struct {
	Week                       int
	Pain, Function, Confidence float64
}

type svg struct{ b strings.Builder }

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

// open writes the <svg> element with its title, description and legend.
func (s *svg) open(id string, t chartText, classes []string) {
	s.f(`<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" xmlns="http://www.w3.org/2000/svg">`,
		chartW, chartH, id, id)
	s.f(`<title id="%s-title">%s</title>`, id, esc(t.Title))
	s.f(`<desc id="%s-desc">%s</desc>`, id, esc(t.Desc))
	x := chartLeft
	for i, label := range t.Series {
		s.f(`<rect class="%s" x="%d" y="6" width="14" height="14"/>`, classes[i], x)
		s.f(`<text class="chart-label" x="%d" y="18">%s</text>`, x+20, esc(label))
		x += 20 + 9*len([]rune(label)) + 24
	}
}

// axes writes the y-axis grid with ticks at 0, half and top.
func (s *svg) axes(top int, unit string) {
	for _, v := range []int{0, top / 2, top} {
		y := yOf(float64(v), float64(top))
		s.f(`<line class="chart-grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, chartLeft, y, chartW-chartRight, y)
		s.f(`<text class="chart-label" x="%d" y="%.1f" text-anchor="end">%d</text>`, chartLeft-6, y+4, v)
	}
	if unit != "" {
		s.f(`<text class="chart-label" x="%d" y="%d">%s</text>`, chartLeft-36, chartTop-10, esc(unit))
	}
}

func (s *svg) weekLabel(t chartText, week int, cx float64) {
	s.f(`<text class="chart-label" x="%.1f" y="%d" text-anchor="middle">%s</text>`, cx, chartH-8, esc(t.Week(week)))
}

func (s *svg) html() template.HTML {
	s.f(`</svg>`)
	return template.HTML(s.b.String()) //nolint:gosec // every text in it went through esc
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// yOf maps a value on a 0..top scale to its y coordinate.
func yOf(v, top float64) float64 {
	plot := float64(chartH - chartTop - chartBottom)
	if top <= 0 {
		return float64(chartH - chartBottom)
	}
	return float64(chartH-chartBottom) - v/top*plot
}

// niceTop is the y-axis maximum: max rounded up to an even number that
// divides into a readable half.
func niceTop(max int) int {
	if max <= 0 {
		return 10
	}
	for _, step := range []int{2, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000} {
		if max <= step*5 {
			return (max + step - 1) / step * step
		}
	}
	return max
}

// loadChart draws planned (outlined) and completed (filled) load per week as
// paired bars.
func loadChart(id string, t chartText, unit string, weeks []loadWeek) template.HTML {
	var s svg
	s.open(id, t, []string{"chart-planned", "chart-done"})
	top := 0
	for _, w := range weeks {
		top = max(top, w.Planned, w.Done)
	}
	top = niceTop(top)
	s.axes(top, unit)
	if len(weeks) > 0 {
		slot := float64(chartW-chartLeft-chartRight) / float64(len(weeks))
		bar := min(slot*0.36, 28)
		for i, w := range weeks {
			cx := float64(chartLeft) + slot*(float64(i)+0.5)
			base := yOf(0, float64(top))
			for j, v := range []int{w.Planned, w.Done} {
				y := yOf(float64(v), float64(top))
				x := cx - bar - 1 + float64(j)*(bar+2)
				class := []string{"chart-planned", "chart-done"}[j]
				s.f(`<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, class, x, y, bar, base-y)
			}
			s.weekLabel(t, w.Week, cx)
		}
	}
	return s.html()
}

// signalsChart draws pain, function and confidence (0-10) per week as lines
// with a marker per logged value; a week without a value breaks the line.
func signalsChart(id string, t chartText, weeks []signalWeek) template.HTML {
	var s svg
	classes := []string{"chart-pain", "chart-function", "chart-confidence"}
	s.open(id, t, classes)
	s.axes(10, "")
	if len(weeks) == 0 {
		return s.html()
	}
	slot := float64(chartW-chartLeft-chartRight) / float64(len(weeks))
	cx := func(i int) float64 { return float64(chartLeft) + slot*(float64(i)+0.5) }
	for i, w := range weeks {
		s.weekLabel(t, w.Week, cx(i))
	}
	for k, class := range classes {
		value := func(w signalWeek) float64 { return [3]float64{w.Pain, w.Function, w.Confidence}[k] }
		var path strings.Builder
		pen := false
		for i, w := range weeks {
			v := value(w)
			if v < 0 {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, cx(i), yOf(v, 10))
			pen = true
		}
		if path.Len() > 0 {
			s.f(`<path class="%s-line" d="%s"/>`, class, strings.TrimSpace(path.String()))
		}
		for i, w := range weeks {
			if v := value(w); v >= 0 {
				s.f(`<circle class="%s" cx="%.1f" cy="%.1f" r="4"/>`, class, cx(i), yOf(v, 10))
			}
		}
	}
	return s.html()
}
