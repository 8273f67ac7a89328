// Package svgchart draws small charts as SVG on the server: stacked bars
// and lines over a shared x axis, with a y axis, tick labels and a
// legend. The admin console (docs/CONSOLE.md) inlines them in its pages,
// so a chart needs no script, no font and no style sheet of its own: the
// SVG uses presentation attributes only, which a strict
// Content-Security-Policy (no inline styles, no scripts) allows.
//
// Every text (title, series names, labels) is XML-escaped: series names
// come from metric labels and stored events, which a client can choose.
// A chart is an image to assistive technology (role="img") labelled by
// its <title> and <desc>; the description states the totals, so the
// figures are readable without seeing the bars. The palette is Okabe and
// Ito's, which people with the common colour-vision deficiencies can
// tell apart, and lines differ by dash pattern as well as colour.
package svgchart
