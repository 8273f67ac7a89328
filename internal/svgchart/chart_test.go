package svgchart_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/wardauth/ward/internal/golden"
	"github.com/wardauth/ward/internal/svgchart"
)

var update = flag.Bool("update", false, "rewrite golden files")

func hours(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Repeat("0", 2-len(itoa(i))) + itoa(i) + ":00"
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

var refusals = svgchart.Chart{
	ID: "refusals", Title: "Refusals by reason", Unit: "requests", Kind: svgchart.StackedBar,
	Labels: hours(12),
	Series: []svgchart.Series{
		{Name: "replayed", Values: []float64{0, 2, 5, 1, 0, 0, 12, 30, 4, 0, 1, 0}},
		{Name: "expired", Values: []float64{10, 8, 9, 11, 7, 6, 5, 9, 10, 12, 8, 7}},
		{Name: "jkt_mismatch", Values: []float64{0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0}},
		{Name: "other", Values: []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
	},
}

var traffic = svgchart.Chart{
	ID: "traffic", Title: "Accepted requests by sender constraint", Unit: "requests", Kind: svgchart.Line,
	Labels: hours(8),
	Series: []svgchart.Series{
		{Name: "bearer", Values: []float64{900, 850, 700, 500, 300, 200, 120, 80}},
		{Name: "dpop", Values: []float64{100, 150, 300, 500, 700, 800, 880, 920}},
		{Name: "mtls", Values: []float64{40, 40, 41, 39, 40, 42, 40, 40}},
	},
}

// TestChartGolden: the SVG of a stacked bar chart, a line chart and an
// empty one is the reviewed file in testdata.
func TestChartGolden(t *testing.T) {
	empty := svgchart.Chart{ID: "empty", Title: "Tokens leaked", Labels: hours(3),
		Series: []svgchart.Series{{Name: "token_leaked", Values: []float64{0, 0, 0}}}}
	for name, c := range map[string]svgchart.Chart{"bars": refusals, "lines": traffic, "empty": empty} {
		t.Run(name, func(t *testing.T) {
			svg := c.SVG()
			wellFormed(t, svg)
			golden.Check(t, "testdata/"+name+".svg", svg, *update)
		})
	}
}

// TestChartEscapes: client-chosen text (series names from metric labels
// and events, labels) is escaped: no element, attribute or entity of it
// reaches the SVG.
func TestChartEscapes(t *testing.T) {
	hostile := `"><script>alert(1)</script><x a='` + "\x1b&amp;"
	c := svgchart.Chart{ID: `x" onload="alert(1)`, Title: hostile, Labels: []string{hostile, "b"},
		Series: []svgchart.Series{{Name: hostile, Values: []float64{1, 2}}}}
	for _, k := range []svgchart.Kind{svgchart.StackedBar, svgchart.Line} {
		c.Kind = k
		svg := c.SVG()
		wellFormed(t, svg)
		for _, bad := range []string{"<script", "onload=", "<x ", "\x1b", "&amp;amp;\"", "a='"} {
			if bytes.Contains(svg, []byte(bad)) {
				t.Errorf("kind %d: the SVG holds %q:\n%s", k, bad, svg)
			}
		}
		if !bytes.Contains(svg, []byte("&lt;script&gt;")) {
			t.Errorf("kind %d: the hostile name is not shown escaped:\n%s", k, svg)
		}
	}
}

// TestChartNoStyle: nothing a strict CSP refuses: no style attribute or
// element, no script, no external reference.
func TestChartNoStyle(t *testing.T) {
	for _, c := range []svgchart.Chart{refusals, traffic} {
		svg := string(c.SVG())
		for _, bad := range []string{"style", "<script", "href", "url(", "@import"} {
			if strings.Contains(svg, bad) {
				t.Errorf("%s holds %q", c.ID, bad)
			}
		}
	}
}

// TestChartDescribesTotals: the description states the total and each
// series' total, largest first, for readers who cannot see the bars.
func TestChartDescribesTotals(t *testing.T) {
	svg := string(refusals.SVG())
	want := "Refusals by reason from 00:00 to 11:00: 172 requests in all; expired 102, replayed 55, other 12, jkt_mismatch 3."
	if !strings.Contains(svg, want) {
		t.Errorf("desc lacks %q:\n%s", want, svg)
	}
}

// TestChartOddValues: negative, NaN and infinite values and series
// shorter than the labels draw as zero, never as NaN coordinates.
func TestChartOddValues(t *testing.T) {
	nan := 0.0
	nan /= nan
	c := svgchart.Chart{Labels: hours(4), Series: []svgchart.Series{{Name: "a", Values: []float64{-1, nan, 1 / (nan * 0), 3}}, {Name: "b"}}}
	for _, k := range []svgchart.Kind{svgchart.StackedBar, svgchart.Line} {
		c.Kind = k
		svg := c.SVG()
		wellFormed(t, svg)
		if bytes.Contains(svg, []byte("NaN")) || bytes.Contains(svg, []byte("Inf")) {
			t.Errorf("kind %d draws a NaN or Inf:\n%s", k, svg)
		}
	}
}

// wellFormed fails unless svg parses as XML to its end.
func wellFormed(t *testing.T, svg []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, svg)
		}
	}
}

// FuzzChart: whatever the names, labels and values, the SVG is
// well-formed XML holding no element but the chart's own.
func FuzzChart(f *testing.F) {
	f.Add("replayed", "10:00", 3.0, 1.0, uint8(0))
	f.Add(`"><script>`, "\x00\xff", -1.0, 1e300, uint8(1))
	f.Add("a&b", "<", 0.0, 0.0, uint8(0))
	f.Fuzz(func(t *testing.T, name, label string, v1, v2 float64, kind uint8) {
		c := svgchart.Chart{ID: name, Title: name, Kind: svgchart.Kind(kind % 2), Labels: []string{label, label},
			Series: []svgchart.Series{{Name: name, Values: []float64{v1, v2}}, {Name: label, Values: []float64{v2}}}}
		svg := c.SVG()
		d := xml.NewDecoder(bytes.NewReader(svg))
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("not well-formed: %v\n%s", err, svg)
			}
			if se, ok := tok.(xml.StartElement); ok {
				switch se.Name.Local {
				case "svg", "title", "desc", "g", "text", "line", "rect", "polyline":
				default:
					t.Fatalf("element %q in the SVG", se.Name.Local)
				}
			}
		}
	})
}
