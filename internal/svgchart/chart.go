package svgchart

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Kind is how a chart draws its series.
type Kind int

// The kinds of chart.
const (
	StackedBar Kind = iota // one bar a point, the series stacked
	Line                   // one line a series
)

// Series is one named row of values, one a point.
type Series struct {
	Name   string
	Values []float64
}

// Chart is what to draw. Labels name the points (the x axis); each
// series holds one value a point (missing values count zero, extra ones
// are ignored).
type Chart struct {
	// ID makes the chart's element IDs unique in a page; only ASCII
	// letters, digits and '-' are kept.
	ID    string
	Title string
	// Desc describes the chart for people who cannot see it; empty, a
	// description of the totals is written.
	Desc   string
	Kind   Kind
	Labels []string
	Series []Series
	// Unit names what the values count ("requests"), for the description.
	Unit string
	// Width and Height are the viewBox's (default 400 by 250: its text
	// stays readable when a phone shows it 330 pixels wide); the SVG
	// scales to its container's width.
	Width, Height int
}

// Palette is Okabe and Ito's colour-blind-safe palette, darkest first;
// series take colours in order and wrap.
var Palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"}

// dashes tell lines apart without colour.
var dashes = []string{"", "6 3", "2 2", "8 3 2 3", "1 3", "10 4", "4 4", "12 2"}

const (
	fontSize   = 13
	lineHeight = 17
	marginL    = 46
	marginR    = 10
	marginT    = 10
	xLabelsH   = 20
	charWidth  = 7.2 // an estimate of fontSize's average advance
	maxTicks   = 5
	gridLines  = 4
	emptyNote  = "no data in this range"
	fontFamily = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
)

// SVG renders the chart.
func (c Chart) SVG() []byte {
	c.defaults()
	var b bytes.Buffer
	id := cleanID(c.ID)
	legend := c.legendRows()
	plot := box{x: marginL, y: marginT, w: float64(c.Width - marginL - marginR),
		h: float64(c.Height - marginT - xLabelsH - len(legend)*lineHeight - 6)}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-title %s-desc" font-family="%s" font-size="%d" class="chart">`+"\n",
		c.Width, c.Height, id, id, fontFamily, fontSize)
	fmt.Fprintf(&b, "<title id=\"%s-title\">%s</title>\n<desc id=\"%s-desc\">%s</desc>\n", id, esc(c.Title), id, esc(c.describe()))
	top := niceCeil(c.maxValue())
	c.axes(&b, plot, top)
	if top == 0 {
		fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n", num(plot.x+plot.w/2), num(plot.y+plot.h/2), emptyNote)
	} else if c.Kind == Line {
		c.lines(&b, plot, top)
	} else {
		c.bars(&b, plot, top)
	}
	c.legend(&b, legend, plot.y+plot.h+xLabelsH+lineHeight)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

type box struct{ x, y, w, h float64 }

func (c *Chart) defaults() {
	if c.Width <= 0 {
		c.Width = 400
	}
	if c.Height <= 0 {
		c.Height = 250
	}
	if c.ID == "" {
		c.ID = "chart"
	}
}

// value is series s's value at point i (zero when missing or not a
// finite, non-negative number: the charts count things).
func (c *Chart) value(s, i int) float64 {
	v := c.Series[s].Values
	if i >= len(v) || math.IsNaN(v[i]) || math.IsInf(v[i], 0) || v[i] < 0 {
		return 0
	}
	return v[i]
}

// maxValue is the largest bar (stacked) or point (lines).
func (c *Chart) maxValue() float64 {
	m := 0.0
	for i := range c.Labels {
		sum := 0.0
		for s := range c.Series {
			if c.Kind == Line {
				m = max(m, c.value(s, i))
			}
			sum += c.value(s, i)
		}
		if c.Kind == StackedBar {
			m = max(m, sum)
		}
	}
	return m
}

// axes draws the horizontal grid with the y labels, the baseline and
// up to maxTicks x labels.
func (c *Chart) axes(b *bytes.Buffer, p box, top float64) {
	b.WriteString(`<g fill="#444" stroke="none">` + "\n")
	for g := 0; g <= gridLines && top > 0; g++ {
		y := p.y + p.h - p.h*float64(g)/gridLines
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">%s</text>\n", num(p.x-6), num(y+4), compact(top*float64(g)/gridLines))
		if g > 0 {
			fmt.Fprintf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#ddd\"/>\n", num(p.x), num(y), num(p.x+p.w), num(y))
		}
	}
	n := len(c.Labels)
	every := max(1, (n+maxTicks-1)/maxTicks)
	for i := 0; i < n; i += every {
		x := p.x + p.w*(float64(i)+0.5)/float64(n)
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s</text>\n", num(x), num(p.y+p.h+xLabelsH-4), esc(c.Labels[i]))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#888\"/>\n", num(p.x), num(p.y+p.h), num(p.x+p.w), num(p.y+p.h))
}

// bars draws one stacked bar a point, each segment titled with its
// label, series and value (a tooltip).
func (c *Chart) bars(b *bytes.Buffer, p box, top float64) {
	n := len(c.Labels)
	slot := p.w / float64(n)
	w := max(slot*0.8, 1)
	for i := range n {
		x := p.x + slot*float64(i) + (slot-w)/2
		y := p.y + p.h
		for s := range c.Series {
			v := c.value(s, i)
			if v == 0 {
				continue
			}
			h := p.h * v / top
			y -= h
			fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"><title>%s · %s: %s</title></rect>\n",
				num(x), num(y), num(w), num(h), colour(s), esc(c.Labels[i]), esc(c.Series[s].Name), compact(v))
		}
	}
}

// lines draws one polyline a series, in its colour and dash pattern.
func (c *Chart) lines(b *bytes.Buffer, p box, top float64) {
	n := len(c.Labels)
	for s := range c.Series {
		pts := make([]string, n)
		for i := range n {
			x := p.x + p.w*(float64(i)+0.5)/float64(n)
			y := p.y + p.h - p.h*c.value(s, i)/top
			pts[i] = num(x) + "," + num(y)
		}
		dash := ""
		if d := dashes[s%len(dashes)]; d != "" {
			dash = ` stroke-dasharray="` + d + `"`
		}
		fmt.Fprintf(b, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"%s><title>%s</title></polyline>\n",
			strings.Join(pts, " "), colour(s), dash, esc(c.Series[s].Name))
	}
}

// legendRows lays the series' names out in rows that fit the width.
func (c *Chart) legendRows() [][]int {
	var rows [][]int
	x := float64(marginL)
	for s := range c.Series {
		w := legendWidth(c.Series[s].Name)
		if len(rows) == 0 || x+w > float64(c.Width-marginR) {
			rows, x = append(rows, nil), float64(marginL)
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], s)
		x += w
	}
	return rows
}

func legendWidth(name string) float64 { return 14 + charWidth*float64(len([]rune(name))) + 14 }

// legend draws a swatch (a dashed stroke for lines) and the name of each
// series, rows starting at baseline y.
func (c *Chart) legend(b *bytes.Buffer, rows [][]int, y float64) {
	for _, row := range rows {
		x := float64(marginL)
		for _, s := range row {
			if c.Kind == Line {
				dash := ""
				if d := dashes[s%len(dashes)]; d != "" {
					dash = ` stroke-dasharray="` + d + `"`
				}
				fmt.Fprintf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n", num(x), num(y-4), num(x+10), num(y-4), colour(s), dash)
			} else {
				fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"10\" height=\"10\" fill=\"%s\"/>\n", num(x), num(y-9), colour(s))
			}
			fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" fill=\"#222\">%s</text>\n", num(x+14), num(y), esc(c.Series[s].Name))
			x += legendWidth(c.Series[s].Name)
		}
		y += lineHeight
	}
}

// describe is Desc, or the totals of the series, largest first.
func (c *Chart) describe() string {
	if c.Desc != "" {
		return c.Desc
	}
	type total struct {
		name string
		v    float64
	}
	var ts []total
	sum := 0.0
	for s := range c.Series {
		t := total{name: c.Series[s].Name}
		for i := range c.Labels {
			t.v += c.value(s, i)
		}
		sum += t.v
		ts = append(ts, t)
	}
	if sum == 0 {
		return c.Title + ": " + emptyNote + "."
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].v > ts[j].v })
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		parts = append(parts, t.name+" "+compact(t.v))
	}
	unit := ""
	if c.Unit != "" {
		unit = " " + c.Unit
	}
	span := ""
	if n := len(c.Labels); n > 0 {
		span = " from " + c.Labels[0] + " to " + c.Labels[n-1]
	}
	return fmt.Sprintf("%s%s: %s%s in all; %s.", c.Title, span, compact(sum), unit, strings.Join(parts, ", "))
}

func colour(s int) string { return Palette[s%len(Palette)] }

// niceCeil rounds v up to a top whose quarters (the grid lines) are
// round numbers: 1, 1.2, 1.6, 2, 2.4, 4, 6 or 8 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 0
	}
	if v < 10 {
		return math.Ceil(v/4) * 4 // whole numbers on the four grid lines
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.6, 2, 2.4, 4, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// compact formats a count: 950, 1.2k, 3.4M.
func compact(v float64) string {
	switch {
	case v >= 1e9:
		return trim(v/1e9) + "G"
	case v >= 1e6:
		return trim(v/1e6) + "M"
	case v >= 1e3:
		return trim(v/1e3) + "k"
	}
	return trim(v)
}

func trim(v float64) string {
	if v >= 100 || v == math.Trunc(v) {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// num formats a coordinate with at most one decimal.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// esc escapes text for XML character data and attribute values.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		default:
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				b.WriteRune('\uFFFD')
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// cleanID keeps ASCII letters, digits and '-'.
func cleanID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "chart"
	}
	return b.String()
}
