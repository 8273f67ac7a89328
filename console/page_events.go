package console

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// The security events page: the stored events of every instance, newest
// first, filtered by type, severity, client, subject and time window,
// fifty a page. The first page is live: static/live.js asks
// /events/live every few seconds and adds the new events on top.
func init() {
	Register(&Page{
		Name: "events", Title: "Security events", Nav: 50,
		Template: eventsTemplate,
		Routes: func(r Routes) {
			r.Get("/events", listEvents)
			r.Get("/events/live", liveEvents)
		},
	})
}

// liveSeconds is how often the live list asks for new events.
const liveSeconds = 5

const eventsTemplate = `{{define "content"}}{{with .Data}}
<form class="filters" method="get" action="{{path "events"}}" role="search" aria-label="Filter the events">
  <label>Type <select name="type"><option value="">any type</option>{{range .Types}}<option{{if eq . $.Data.Query.Type}} selected{{end}}>{{.}}</option>{{end}}</select></label>
  <label>Severity <select name="severity"><option value="">any severity</option>{{range .Severities}}<option{{if eq . $.Data.Query.Severity}} selected{{end}}>{{.}}</option>{{end}}</select></label>
  <label>Client <input type="search" name="client" value="{{.Query.Client}}" maxlength="256" autocomplete="off"></label>
  <label>Subject <input type="search" name="subject" value="{{.Query.Subject}}" maxlength="256" autocomplete="off"></label>
  <label>Since <select name="since">{{range .Since}}<option value="{{.Value}}"{{if eq .Value $.Data.Query.Since}} selected{{end}}>{{.Label}}</option>{{end}}</select></label>
  <button type="submit">Filter</button>
  {{if .Filtered}}<a href="{{path "events"}}">Clear</a>{{end}}
</form>
{{template "table" .}}
{{end}}{{end}}
{{define "table"}}
<div class="table-wrap">
<table class="events" id="events"{{if .LiveURL}} data-live="{{.LiveURL}}" data-every="{{.Refresh}}" data-top="{{.Top}}" data-events="{{path "events"}}"{{end}}>
<caption>{{if .LiveURL}}<span class="live-note"><label><input type="checkbox" data-live-toggle checked> Live: new events appear every {{.Refresh}} seconds</label> <span class="muted" data-live-status role="status" aria-live="polite"></span></span>{{else}}<span class="muted">An earlier page: not live.</span>{{end}}</caption>
<thead><tr><th scope="col">Time (UTC)</th><th scope="col">Severity</th><th scope="col">Type</th><th scope="col">Client</th><th scope="col">Subject</th><th scope="col">Address</th><th scope="col">Route</th><th scope="col">Reason</th></tr></thead>
<tbody>{{range .Events}}<tr data-id="{{.ID}}">
  <td><a href="{{path "events" .IDText}}">{{.Short}}</a></td>
  <td><span class="sev sev-{{.Severity}}">{{.Severity}}</span></td>
  <td>{{.Type}}</td><td class="free">{{.ClientID}}</td><td class="free">{{.Subject}}</td><td>{{.ClientAddr}}</td><td class="free">{{.Route}}</td><td class="free">{{.Reason}}</td>
</tr>{{else}}<tr class="none"><td colspan="8">No event matches.</td></tr>{{end}}</tbody>
</table>
</div>
<p class="pager">{{if .Newest}}<a href="{{.Newest}}">Newest events</a>{{end}}{{if .Older}} <a href="{{.Older}}" rel="next">Older events</a>{{end}}</p>
{{end}}`

// eventRow is one event as the pages show it.
type eventRow struct {
	store.SecurityEvent
	IDText, When string
	Short        string // the time in the list: UTC, no zone
}

func rowOf(e store.SecurityEvent) eventRow {
	return eventRow{SecurityEvent: e, IDText: strconv.FormatInt(e.ID, 10), When: when(e.Time),
		Short: e.Time.UTC().Format(time.DateTime)}
}

type eventsView struct {
	Query      eventQuery
	Filtered   bool
	Types      []secevent.Type
	Severities []string
	Since      []struct{ Value, Label string }
	Events     []eventRow
	// Older and Newest link the next page and the first; LiveURL is the
	// live list's source (the first page only), Top the newest ID shown.
	Older, Newest, LiveURL string
	Top                    int64
	Refresh                int
}

func listEvents(c *Call) error {
	eq, f, err := parseEventQuery(c.R.URL.Query(), c.Now())
	if err != nil {
		return err
	}
	evs, err := c.Store().ListEvents(c.R.Context(), f)
	if err != nil {
		return err
	}
	v := eventsView{Query: eq, Types: secevent.Types, Severities: severities, Since: sinceChoices, Refresh: liveSeconds,
		Filtered: eq.with("") != ""}
	if len(evs) > pageSize {
		evs = evs[:pageSize]
		v.Older = c.Path("events") + eq.with(cursor(evs[len(evs)-1]))
	}
	for _, e := range evs {
		v.Events = append(v.Events, rowOf(e))
		v.Top = max(v.Top, e.ID)
	}
	if eq.After != "" {
		v.Newest = c.Path("events") + eq.with("")
	} else {
		v.LiveURL = c.Path("bff", "api", "events", "live") + eq.with("")
	}
	return c.Render(http.StatusOK, v)
}

// liveEvent is one event of the live list's JSON: strings only, which
// static/live.js puts in the page as text, never as HTML.
type liveEvent struct {
	ID int64 `json:"id"`
	// Cells are the row's columns: time, severity, type, client,
	// subject, address, route, reason.
	Cells []string `json:"cells"`
}

// liveEvents answers the live list: the newest events the filters select
// (the first page's), as JSON.
func liveEvents(c *Call) error {
	q := c.R.URL.Query()
	q.Del("after")
	_, f, err := parseEventQuery(q, c.Now())
	if err != nil {
		return err
	}
	f.Limit = pageSize
	evs, err := c.Store().ListEvents(c.R.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Events []liveEvent `json:"events"`
	}{Events: []liveEvent{}}
	for _, e := range evs {
		out.Events = append(out.Events, liveEvent{ID: e.ID,
			Cells: []string{e.Time.UTC().Format(time.DateTime), e.Severity, e.Type, e.ClientID, e.Subject, e.ClientAddr, e.Route, e.Reason}})
	}
	c.W.Header().Set("Content-Type", "application/json")
	c.W.Header().Set("X-Content-Type-Options", "nosniff")
	return json.NewEncoder(c.W).Encode(out)
}
