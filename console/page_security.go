package console

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/internal/promring"
	"github.com/wardauth/ward/internal/svgchart"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// The security overview: figures and charts a person would rather look
// at than read. Events come from the store (every instance); refusals
// and accepted traffic from this process's own counters
// (Options.Traffic): in the scale-out shape each instance shows its own,
// and Grafana (packaging/grafana/ward.json) the fleet's.
func init() {
	Register(&Page{
		Name: "security", Title: "Security overview", Nav: 40,
		Template: securityTemplate,
		Routes: func(r Routes) {
			r.Get("/security", showOverview)
		},
	})
}

const securityTemplate = `{{define "content"}}{{with .Data}}
<form class="filters" method="get" action="{{path "security"}}" aria-label="Time range">
  <label>Range <select name="range">{{range .Ranges}}<option value="{{.Value}}"{{if eq .Value $.Data.Range}} selected{{end}}>{{.Label}}</option>{{end}}</select></label>
  <button type="submit">Show</button>
</form>
<ul class="cards">{{range .Cards}}<li class="card{{if .Alert}} alert{{end}}"><a href="{{.Href}}"><span class="figure">{{.Value}}</span> <span class="label">{{.Label}}</span></a></li>{{end}}</ul>
<div class="charts">{{range .Charts}}
<figure class="chart-box"><figcaption><strong>{{.Title}}</strong> <span class="muted">{{.Note}}</span></figcaption>{{.SVG}}</figure>{{end}}
</div>
<section aria-labelledby="top-clients"><h2 id="top-clients">Clients named by the most refusals</h2>
<p class="muted">Security events of refusals (leaks, replays, denials, blocks…) that name a client, all instances.</p>
<div class="table-wrap"><table class="top">
<thead><tr><th scope="col">Client</th><th scope="col">Events</th></tr></thead>
<tbody>{{range .TopClients}}<tr><td><a href="{{.Href}}">{{.ClientID}}</a></td><td>{{.Count}}</td></tr>{{else}}<tr><td colspan="2">No refusal named a client in this range.</td></tr>{{end}}</tbody>
</table></div></section>
{{end}}{{end}}`

type card struct {
	Label, Value, Href string
	Alert              bool
}

type chartBox struct {
	Title, Note string
	SVG         template.HTML
}

type clientRow struct {
	ClientID, Href string
	Count          int64
}

type overviewView struct {
	Range      string
	Ranges     []overviewRange
	Cards      []card
	Charts     []chartBox
	TopClients []clientRow
}

// maxFamilyLookups bounds the grant families the overview reads to tell
// which were revoked.
const maxFamilyLookups = 100

func showOverview(c *Call) error {
	rg, err := parseRange(c.R.URL.Query().Get("range"))
	if err != nil {
		return err
	}
	now := c.Now()
	f := store.EventFilter{Since: now.Add(-rg.span), Until: now}
	v := overviewView{Range: rg.Value, Ranges: overviewRanges}
	counts, err := c.Store().CountEvents(c.R.Context(), f, rg.point)
	if err != nil {
		return err
	}
	v.Cards, err = c.overviewCards(f, counts, rg)
	if err != nil {
		return err
	}
	v.Charts = append(v.Charts, eventsChart(counts, f, rg))
	v.Charts = append(v.Charts, c.trafficCharts(f, rg)...)
	top, err := c.Store().TopEventClients(c.R.Context(), store.EventFilter{Types: refusalTypes, Since: f.Since, Until: now}, 10)
	if err != nil {
		return err
	}
	for _, t := range top {
		v.TopClients = append(v.TopClients, clientRow{ClientID: t.ClientID, Count: t.Count,
			Href: c.Path("events") + "?" + url.Values{"client": {t.ClientID}, "since": {sinceFor(rg)}}.Encode()})
	}
	return c.Render(http.StatusOK, v)
}

// sinceFor is the events list's window that covers range rg.
func sinceFor(rg overviewRange) string {
	if rg.span <= time.Hour {
		return "1h"
	}
	return "24h"
}

// overviewCards are the figures: leaks, replays, families revoked,
// blocks in force.
func (c *Call) overviewCards(f store.EventFilter, counts []store.EventCount, rg overviewRange) ([]card, error) {
	byType := map[string]int64{}
	for _, n := range counts {
		byType[n.Type] += n.Count
	}
	list := func(t secevent.Type) string {
		return c.Path("events") + "?" + url.Values{"type": {string(t)}, "since": {sinceFor(rg)}}.Encode()
	}
	leaked, replayed := byType[string(secevent.TokenLeaked)], byType[string(secevent.RefreshReplayed)]
	cards := []card{
		{Label: "tokens leaked", Value: strconv.FormatInt(leaked, 10), Href: list(secevent.TokenLeaked), Alert: leaked > 0},
		{Label: "refresh tokens replayed", Value: strconv.FormatInt(replayed, 10), Href: list(secevent.RefreshReplayed), Alert: replayed > 0},
	}
	revoked, err := c.familiesRevoked(f)
	if err != nil {
		return nil, err
	}
	cards = append(cards, card{Label: "grant families revoked", Value: revoked, Href: list(secevent.TokenLeaked)})
	return append(cards, c.blockCards()...), nil
}

// familiesRevoked counts the distinct grant families named by leak and
// refresh-replay events in f's range that the store holds revoked (at
// most maxFamilyLookups read; "100+" beyond).
func (c *Call) familiesRevoked(f store.EventFilter) (string, error) {
	f.Types = []string{string(secevent.TokenLeaked), string(secevent.RefreshReplayed)}
	f.Limit = 1000
	evs, err := c.Store().ListEvents(c.R.Context(), f)
	if err != nil {
		return "", err
	}
	seen, n := map[string]bool{}, 0
	for _, e := range evs {
		if e.FamilyID == "" || e.FamilyID == secevent.Redacted || seen[e.FamilyID] {
			continue
		}
		if len(seen) == maxFamilyLookups {
			return strconv.Itoa(n) + "+", nil
		}
		seen[e.FamilyID] = true
		fam, err := c.Store().GetFamily(c.R.Context(), e.FamilyID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if !fam.RevokedAt.IsZero() {
			n++
		}
	}
	return strconv.Itoa(n), nil
}

// blockCards count the blocks in force by kind.
func (c *Call) blockCards() []card {
	adm := c.api.o.Blocks
	href := c.Path("blocks")
	if adm == nil {
		return []card{{Label: "blocking off", Value: "—", Href: href}}
	}
	bs, err := adm.List(c.R.Context())
	if err != nil {
		return []card{{Label: "blocks: store unavailable", Value: "?", Href: href, Alert: true}}
	}
	var addrs, keys int
	for _, b := range bs {
		if b.Kind == block.Key {
			keys++
		} else {
			addrs++
		}
	}
	return []card{
		{Label: "addresses blocked", Value: strconv.Itoa(addrs), Href: href, Alert: addrs > 0},
		{Label: "keys blocked", Value: strconv.Itoa(keys), Href: href, Alert: keys > 0},
	}
}

// points are the start times of range rg's points ending at now, aligned
// on multiples of the point length as the store's buckets are.
func points(since, now time.Time, point time.Duration) []time.Time {
	var out []time.Time
	start := time.Unix(0, since.UnixNano()/int64(point)*int64(point))
	for t := start; t.Before(now); t = t.Add(point) {
		out = append(out, t)
	}
	return out
}

// eventsChart stacks the stored events by type.
func eventsChart(counts []store.EventCount, f store.EventFilter, rg overviewRange) chartBox {
	starts := points(f.Since, f.Until, rg.point)
	index := map[int64]int{}
	for i, t := range starts {
		index[t.UnixNano()] = i
	}
	byType := map[string][]float64{}
	for _, n := range counts {
		i, ok := index[n.Start.UnixNano()]
		if !ok {
			continue
		}
		if byType[n.Type] == nil {
			byType[n.Type] = make([]float64, len(starts))
		}
		byType[n.Type][i] += float64(n.Count)
	}
	var series []svgchart.Series
	for t, vals := range byType {
		series = append(series, svgchart.Series{Name: t, Values: vals})
	}
	ch := svgchart.Chart{ID: "chart-events", Title: "Security events by type", Unit: "events", Kind: svgchart.StackedBar,
		Labels: pointLabels(starts, rg.point), Series: topSeries(series)}
	return chartBox{Title: ch.Title, Note: "all instances, " + span(rg.point) + " bars", SVG: chart(ch)}
}

// trafficCharts are the charts of this process's counters.
func (c *Call) trafficCharts(f store.EventFilter, rg overviewRange) []chartBox {
	specs := []struct {
		id, family, title, unit string
		kind                    svgchart.Kind
	}{
		{"chart-refusals", trackRejections, "Gateway refusals by reason", "requests", svgchart.StackedBar},
		{"chart-accepted", trackAccepted, "Accepted gateway requests by sender constraint", "requests", svgchart.Line},
		{"chart-issued", trackIssued, "Tokens issued by sender constraint", "tokens", svgchart.Line},
	}
	out := make([]chartBox, 0, len(specs))
	ring := c.api.o.Traffic
	if ring != nil {
		// Up to the second: the increases since the last sample go to
		// the current bucket now rather than at the next tick.
		_ = ring.Sample(c.Now())
	}
	for _, s := range specs {
		box := chartBox{Title: s.title, Note: "this instance only, " + span(rg.point) + " points"}
		if ring == nil {
			box.Note = "not sampled in this process"
			out = append(out, box)
			continue
		}
		w, err := ring.Range(s.family, f.Since, f.Until, rg.point)
		if err != nil {
			box.Note = "not available: " + err.Error()
			out = append(out, box)
			continue
		}
		ch := svgchart.Chart{ID: s.id, Title: s.title, Unit: s.unit, Kind: s.kind,
			Labels: pointLabels(w.Starts, w.Point), Series: topSeries(seriesOf(w))}
		box.SVG = chart(ch)
		out = append(out, box)
	}
	return out
}

func seriesOf(w promring.Window) []svgchart.Series {
	out := make([]svgchart.Series, len(w.Series))
	for i, s := range w.Series {
		out[i] = svgchart.Series{Name: s.Name, Values: s.Values}
	}
	return out
}

// span names a point's length: "1-minute", "30-minute", "2-hour".
func span(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + "-hour"
	}
	return strconv.Itoa(int(d/time.Minute)) + "-minute"
}
