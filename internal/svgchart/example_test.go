package svgchart_test

import (
	"fmt"
	"strings"

	"github.com/wardauth/ward/internal/svgchart"
)

func Example() {
	c := svgchart.Chart{
		ID: "leaks", Title: "Tokens leaked", Unit: "events", Kind: svgchart.StackedBar,
		Labels: []string{"09:00", "10:00", "11:00"},
		Series: []svgchart.Series{{Name: "token_leaked", Values: []float64{0, 2, 1}}},
	}
	svg := string(c.SVG()) // inline it in a page: no script, no style
	fmt.Println(strings.HasPrefix(svg, "<svg "), strings.Count(svg, "<rect"))
	// Output: true 3
}
