package console

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// The security pages' query parameters (docs/CONSOLE.md). Every value is
// checked here and reaches the store only as a bound parameter of its
// query (store.EventFilter); what the pages echo back is escaped by
// html/template.
const (
	maxFilterValue = 256 // bytes of a client ID or subject
	pageSize       = 50  // events a page of the list
)

// eventQuery is the events list's filters as the operator set them.
type eventQuery struct {
	Type, Severity, Client, Subject, Since string
	// After is the cursor of the page (empty: the newest events).
	After string
}

// sinceChoices are the list's time windows, newest first.
var sinceChoices = []struct{ Value, Label string }{
	{"15m", "last 15 minutes"}, {"1h", "last hour"}, {"24h", "last 24 hours"}, {"168h", "last 7 days"}, {"", "any time"},
}

var severities = []string{string(secevent.Info), string(secevent.Warning), string(secevent.Critical)}

// parseEventQuery reads the list's parameters into a store filter: a type
// and a severity from their fixed sets, a client and a subject of at
// most maxFilterValue bytes of UTF-8 without control characters, a
// window from sinceChoices, and a cursor. The answer's Problem names the
// parameter at fault.
func parseEventQuery(q url.Values, now time.Time) (eventQuery, store.EventFilter, error) {
	eq := eventQuery{Type: q.Get("type"), Severity: q.Get("severity"), Client: q.Get("client"),
		Subject: q.Get("subject"), Since: q.Get("since"), After: q.Get("after")}
	f := store.EventFilter{Limit: pageSize + 1}
	if eq.Type != "" {
		if !slices.Contains(secevent.Types, secevent.Type(eq.Type)) {
			return eq, f, Invalid("type", "not an event type")
		}
		f.Types = []string{eq.Type}
	}
	if eq.Severity != "" {
		if !slices.Contains(severities, eq.Severity) {
			return eq, f, Invalid("severity", "not info, warning or critical")
		}
		f.Severities = []string{eq.Severity}
	}
	for _, v := range []struct {
		name string
		val  string
		to   *string
	}{{"client", eq.Client, &f.ClientID}, {"subject", eq.Subject, &f.Subject}} {
		if !filterValue(v.val) {
			return eq, f, Invalid(v.name, "at most %d characters, none a control character", maxFilterValue)
		}
		*v.to = v.val
	}
	var err error
	if f.Since, err = sinceWindow(eq.Since, now); err != nil {
		return eq, f, err
	}
	if f.After, err = parseCursor(eq.After); err != nil {
		return eq, f, err
	}
	return eq, f, nil
}

// filterValue reports whether s may be a client ID or subject filter.
func filterValue(s string) bool {
	if len(s) > maxFilterValue || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) })
}

// sinceWindow is the start of window s (one of sinceChoices) before now.
func sinceWindow(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, c := range sinceChoices {
		if c.Value == s {
			d, _ := time.ParseDuration(s)
			return now.Add(-d), nil
		}
	}
	return time.Time{}, Invalid("since", "not one of the offered windows")
}

// cursor renders the place after event e in the list: its time in Unix
// nanoseconds and its ID, as "<nanoseconds>-<id>".
func cursor(e store.SecurityEvent) string {
	return strconv.FormatInt(e.Time.UnixNano(), 10) + "-" + strconv.FormatInt(e.ID, 10)
}

// parseCursor reads what cursor wrote: two decimal numbers, the ID
// positive; nothing else.
func parseCursor(s string) (store.EventCursor, error) {
	if s == "" {
		return store.EventCursor{}, nil
	}
	bad := Invalid("after", "not a place in the list")
	at, id, ok := strings.Cut(s, "-")
	if !ok || !digits(at) || !digits(id) {
		return store.EventCursor{}, bad
	}
	ns, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 {
		return store.EventCursor{}, bad
	}
	return store.EventCursor{Time: time.Unix(0, ns), ID: n}, nil
}

func digits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// with returns the list's query string with the cursor set to after
// (empty: the first page).
func (eq eventQuery) with(after string) string {
	v := url.Values{}
	for k, s := range map[string]string{"type": eq.Type, "severity": eq.Severity, "client": eq.Client,
		"subject": eq.Subject, "since": eq.Since, "after": after} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// overviewRange is one of the overview's time ranges: its length and
// the length of a chart's point.
type overviewRange struct {
	Value, Label string
	span, point  time.Duration
}

// overviewRanges are the overview's ranges: the traffic charts come from
// this process's samples, kept 24 hours (package promring).
var overviewRanges = []overviewRange{
	{"1h", "last hour", time.Hour, time.Minute},
	{"6h", "last 6 hours", 6 * time.Hour, 5 * time.Minute},
	{"24h", "last 24 hours", 24 * time.Hour, 30 * time.Minute},
}

// parseRange reads the overview's range parameter (default 24h).
func parseRange(s string) (overviewRange, error) {
	if s == "" {
		s = "24h"
	}
	for _, r := range overviewRanges {
		if r.Value == s {
			return r, nil
		}
	}
	return overviewRange{}, Invalid("range", "one of 1h, 6h, 24h")
}
