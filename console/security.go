package console

import (
	"cmp"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/wardauth/ward/internal/promring"
	"github.com/wardauth/ward/internal/svgchart"
	"github.com/wardauth/ward/secevent"
)

// The security pages (docs/CONSOLE.md, "Security pages"): the live list
// of security events, one page per event, the security overview and the
// blocked addresses and keys. They read the store's events (every
// instance's), this process's own counters (Options.Traffic) and the
// blocks (Options.Blocks).

// Traffic families the overview charts, sampled by Options.Traffic.
const (
	trackRejections = "ward_gateway_rejections_total"
	trackAccepted   = "ward_gateway_accepted_total"
	trackIssued     = "ward_authz_tokens_issued_total"
)

// TrafficTracks are the counter families the security overview charts:
// give them to the promring.Ring of Options.Traffic.
var TrafficTracks = []promring.Track{
	{Name: trackRejections, By: "reason"},
	{Name: trackAccepted, By: "sender"},
	{Name: trackIssued, By: "sender"},
}

// refusalTypes are the event types that record a refusal or a response
// to one: the overview's top clients count these.
var refusalTypes = []string{
	string(secevent.TokenLeaked), string(secevent.RefreshReplayed), string(secevent.CodeReplayed),
	string(secevent.ProofReplayed), string(secevent.NonceFailure), string(secevent.LoginFailed),
	string(secevent.AccountLocked), string(secevent.RateLimited), string(secevent.PolicyDenied),
	string(secevent.CertFailed), string(secevent.AddressBlocked), string(secevent.KeyBlocked),
}

// maxSeries bounds a chart's series: the largest keep their name, the
// rest add up under "other" (the palette has eight colours).
const maxSeries = 6

// chart renders c as inline SVG for a template. svgchart escapes every
// text it draws and writes presentation attributes only.
func chart(c svgchart.Chart) template.HTML {
	return template.HTML(c.SVG()) //nolint:gosec // svgchart escapes all text
}

// topSeries keeps the maxSeries-1 series with the largest totals, in
// that order, and sums the others into "other".
func topSeries(in []svgchart.Series) []svgchart.Series {
	total := func(s svgchart.Series) float64 {
		t := 0.0
		for _, v := range s.Values {
			t += v
		}
		return t
	}
	var out []svgchart.Series
	for _, s := range in {
		if total(s) > 0 {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b svgchart.Series) int {
		return cmp.Or(cmp.Compare(total(b), total(a)), strings.Compare(a.Name, b.Name))
	})
	if len(out) <= maxSeries {
		return out
	}
	other := svgchart.Series{Name: promring.Other, Values: make([]float64, len(out[0].Values))}
	for _, s := range out[maxSeries-1:] {
		for i, v := range s.Values {
			if i < len(other.Values) {
				other.Values[i] += v
			}
		}
	}
	return append(out[:maxSeries-1], other)
}

// pointLabels names chart points: the clock time (UTC), with the date
// for points a day or more apart.
func pointLabels(starts []time.Time, point time.Duration) []string {
	out := make([]string, len(starts))
	layout := "15:04"
	if point >= 24*time.Hour {
		layout = "Jan 2"
	}
	for i, t := range starts {
		out[i] = t.UTC().Format(layout)
	}
	return out
}

// when formats an event's time for the pages: UTC, to the second.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
