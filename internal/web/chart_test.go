package web

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
)

// svgNode is enough of an SVG document to check a chart's structure.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []svgNode  `xml:",any"`
}

func (n svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// count returns how many descendants have the element name and class.
func (n svgNode) count(name, class string) int {
	c := 0
	for _, k := range n.Nodes {
		if k.XMLName.Local == name && k.attr("class") == class {
			c++
		}
		c += k.count(name, class)
	}
	return c
}

func parseSVG(t *testing.T, s string) svgNode {
	t.Helper()
	var root svgNode
	if err := xml.Unmarshal([]byte(s), &root); err != nil {
		t.Fatalf("the chart is not well-formed XML: %v\n%s", err, s)
	}
	if strings.Contains(s, "style=") || strings.Contains(s, "<script") {
		t.Errorf("the chart holds inline style or script: %s", s)
	}
	return root
}

func text(title, desc string, series ...string) chartText {
	return chartText{Title: title, Desc: desc, Series: series, Week: func(n int) string { return "W" + strconv.Itoa(n) }}
}

func TestLoadChart(t *testing.T) {
	weeks := []loadWeek{{1, 40, 30}, {2, 44, 44}, {3, 48, 0}}
	root := parseSVG(t, string(loadChart("c1", text("Walk <per week>", "Planned & done", "Planned", "Done"), "minutes", weeks)))
	if root.XMLName.Local != "svg" || root.attr("role") != "img" || root.attr("aria-labelledby") != "c1-title c1-desc" {
		t.Errorf("root %s role=%q aria-labelledby=%q", root.XMLName.Local, root.attr("role"), root.attr("aria-labelledby"))
	}
	if root.Nodes[0].XMLName.Local != "title" || root.Nodes[0].Text != "Walk <per week>" || root.Nodes[0].attr("id") != "c1-title" {
		t.Errorf("first child %+v, want the escaped title", root.Nodes[0])
	}
	if root.Nodes[1].XMLName.Local != "desc" || root.Nodes[1].Text != "Planned & done" {
		t.Errorf("second child %+v, want the description", root.Nodes[1])
	}
	// One bar per week and series, plus the legend's swatch.
	if n := root.count("rect", "chart-planned"); n != 4 {
		t.Errorf("%d planned rects, want 3 bars and a swatch", n)
	}
	if n := root.count("rect", "chart-done"); n != 4 {
		t.Errorf("%d done rects, want 3 bars and a swatch", n)
	}
	// Bars scale (the legend's swatches are at y=6): week 3's planned bar is the tallest, week 3's done bar has no height.
	var planned, done []float64
	for _, k := range root.Nodes {
		h, _ := strconv.ParseFloat(k.attr("height"), 64)
		switch {
		case k.XMLName.Local == "rect" && k.attr("class") == "chart-planned" && k.attr("y") != "6":
			planned = append(planned, h)
		case k.XMLName.Local == "rect" && k.attr("class") == "chart-done" && k.attr("y") != "6":
			done = append(done, h)
		}
	}
	if len(planned) != 3 || !(planned[0] < planned[1] && planned[1] < planned[2]) || done[2] != 0 || done[1] != planned[1] {
		t.Errorf("bar heights planned %v, done %v", planned, done)
	}
}

func TestSignalsChart(t *testing.T) {
	weeks := []signalWeek{{1, 5, 6, -1}, {2, -1, 7, 8}, {3, 3.5, 7, 9}}
	root := parseSVG(t, string(signalsChart("s1", text("Signals", "0-10", "Pain", "Function", "Confidence"), weeks)))
	for class, want := range map[string]int{"chart-pain": 2, "chart-function": 3, "chart-confidence": 2} {
		if n := root.count("circle", class); n != want {
			t.Errorf("%d %s markers, want %d (one per logged week)", n, class, want)
		}
	}
	// A missing week breaks the pain line: two moves, no line across week 2.
	for _, k := range root.Nodes {
		if k.XMLName.Local == "path" && k.attr("class") == "chart-pain-line" {
			if d := k.attr("d"); strings.Count(d, "M") != 2 || strings.Contains(d, "L") {
				t.Errorf("pain line %q, want two separate points", d)
			}
		}
	}
	// Empty: still a valid, labelled chart.
	root = parseSVG(t, string(signalsChart("s2", text("Signals", "none"), nil)))
	if root.attr("role") != "img" {
		t.Error("an empty chart lost its role")
	}
}

func TestNiceTop(t *testing.T) {
	for max, want := range map[int]int{0: 10, 3: 4, 9: 10, 37: 40, 90: 100, 140: 150, 260: 300, 1234: 1500} {
		if got := niceTop(max); got != want || got < max {
			t.Errorf("niceTop(%d) = %d, want %d", max, got, want)
		}
	}
}
