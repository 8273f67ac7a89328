package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/internal/promring"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// Hostile values a client can put in an event: its client_id is its own
// choice at registration, the route and reason echo what it sent.
const (
	hostileClient = `<script>alert("client")</script>`
	hostileRoute  = `"><img src=x onerror=alert(1)>`
	hostileReason = `</table><iframe src="javascript:alert(2)">`
	hostileSub    = `' onmouseover='alert(3)`
)

// storeAdmin is block.Admin over a block.Store, at the wall clock.
type storeAdmin struct{ s block.Store }

func (a storeAdmin) List(ctx context.Context) ([]block.Block, error) {
	return a.s.List(ctx, time.Now())
}
func (a storeAdmin) Lift(ctx context.Context, k block.Kind, v string) (bool, error) {
	return a.s.Lift(ctx, k, v, time.Now())
}

const testJKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

// secEnv is the console with blocking on (one address and one key
// blocked) and a traffic ring over reg.
type secEnv struct {
	*env
	blocks block.Store
	reg    *prometheus.Registry
	ring   *promring.Ring
}

func newSecEnv(t *testing.T) *secEnv {
	t.Helper()
	s := &secEnv{blocks: block.NewMemoryStore(0), reg: prometheus.NewRegistry()}
	s.ring = promring.New(promring.Options{Gatherer: s.reg, Tracks: TrafficTracks})
	s.env = newEnvOpts(t, func(o *Options) { o.Blocks, o.Traffic = storeAdmin{s.blocks}, s.ring })
	p := block.Policy{Threshold: 1, Window: time.Minute, Period: time.Hour, MaxPeriod: 24 * time.Hour}
	for _, b := range []struct {
		k block.Kind
		v string
	}{{block.Address, "192.0.2.7"}, {block.Key, testJKT}} {
		if _, ok, err := s.blocks.Strike(t.Context(), b.k, b.v, time.Now(), p); err != nil || !ok {
			t.Fatalf("blocking %s: %v %v", b.v, ok, err)
		}
	}
	return s
}

// add stores events, the first newest, one second apart before now.
func (e *env) add(evs ...store.SecurityEvent) {
	e.t.Helper()
	now := time.Now()
	for i := range evs {
		if evs[i].Time.IsZero() {
			evs[i].Time = now.Add(-time.Duration(i+1) * time.Second)
		}
		if evs[i].Severity == "" {
			evs[i].Severity = string(secevent.Type(evs[i].Type).Severity())
		}
		evs[i].Expires = now.Add(time.Hour)
	}
	if err := e.st.AppendEvents(e.t.Context(), evs); err != nil {
		e.t.Fatal(err)
	}
}

func rows(body string) int { return strings.Count(body, "<tr data-id=") }

// TestEventsListFilters: the list shows the stored events newest first
// and each filter narrows it; a value outside a filter's set is refused
// naming the parameter.
func TestEventsListFilters(t *testing.T) {
	e := newEnv(t)
	e.add(store.SecurityEvent{Type: "token_leaked", ClientID: "app", Subject: "alice", Route: "orders", Reason: "jkt_mismatch"},
		store.SecurityEvent{Type: "proof_replayed", ClientID: "app", Subject: "bob", Reason: "replayed"},
		store.SecurityEvent{Type: "login_failed", Time: time.Now().Add(-3 * time.Hour)},
		store.SecurityEvent{Type: "token_leaked", ClientID: "other", Subject: "bob"})
	b := e.browser()
	b.login("alice")
	for q, want := range map[string]int{
		"": 4, "?type=token_leaked": 2, "?client=app": 2, "?subject=bob": 2, "?client=app&subject=bob": 1,
		"?severity=critical": 2, "?severity=warning": 2, "?since=1h": 3, "?since=15m&type=login_failed": 0,
		"?client=" + url.QueryEscape("app' OR '1'='1"): 0,
	} {
		code, body := b.api("/events"+q, nil)
		if code != http.StatusOK || rows(body) != want {
			t.Errorf("/events%s: %d, %d rows, want %d", q, code, rows(body), want)
		}
	}
	_, body := b.api("/events", nil)
	if i, j := strings.Index(body, "jkt_mismatch"), strings.Index(body, ">replayed<"); i < 0 || j < 0 || i > j {
		t.Errorf("not newest first:\n%s", body)
	}
	for q, field := range map[string]string{
		"?type=nope": "type", "?severity=high": "severity", "?since=2h": "since", "?after=1-0": "after",
		"?after=x-1": "after", "?client=" + strings.Repeat("a", 257): "client", "?subject=a%0Ab": "subject",
	} {
		code, body := b.api("/events"+q, nil)
		if code != http.StatusBadRequest || !strings.Contains(body, field+":") {
			t.Errorf("/events%s: %d %.300s; want 400 naming %s", q, code, body, field)
		}
	}
}

// TestEventsPaging: fifty events a page; the older pages follow by
// cursor with the filters kept, every event once; only the first page
// is live.
func TestEventsPaging(t *testing.T) {
	e := newEnv(t)
	var evs []store.SecurityEvent
	for i := range 120 {
		evs = append(evs, store.SecurityEvent{Type: "nonce_failure", ClientID: "c", Reason: fmt.Sprintf("n%03d", i)})
	}
	evs = append(evs, store.SecurityEvent{Type: "token_leaked", ClientID: "c"})
	e.add(evs...)
	b := e.browser()
	b.login("alice")
	seen := map[string]bool{}
	next := "/events?type=nonce_failure"
	older := regexp.MustCompile(`href="/console(/events\?[^"]+)" rel="next"`)
	for page := 0; next != ""; page++ {
		code, body := b.api(strings.ReplaceAll(next, "&amp;", "&"), nil)
		if code != http.StatusOK {
			t.Fatalf("page %d (%s): %d %.300s", page, next, code, body)
		}
		if live := strings.Contains(body, "data-live="); live != (page == 0) {
			t.Errorf("page %d live: %v", page, live)
		}
		for _, m := range regexp.MustCompile(`>(n\d{3})<`).FindAllStringSubmatch(body, -1) {
			if seen[m[1]] {
				t.Errorf("page %d repeats %s", page, m[1])
			}
			seen[m[1]] = true
		}
		if want := []int{50, 50, 20}[min(page, 2)]; rows(body) != want {
			t.Errorf("page %d: %d rows, want %d", page, rows(body), want)
		}
		next = ""
		if m := older.FindStringSubmatch(body); m != nil {
			next = m[1]
			if !strings.Contains(next, "type=nonce_failure") {
				t.Errorf("the next page drops the filter: %s", next)
			}
		}
	}
	if len(seen) != 120 {
		t.Errorf("paged through %d events, want 120", len(seen))
	}
}

// TestEventsLive: the live list's source answers the newest events of
// the filters as JSON strings, hostile ones included as data.
func TestEventsLive(t *testing.T) {
	e := newEnv(t)
	e.add(store.SecurityEvent{Type: "token_leaked", ClientID: hostileClient, Route: hostileRoute},
		store.SecurityEvent{Type: "login_failed"})
	b := e.browser()
	b.login("alice")
	_, page := b.api("/events", nil)
	if !strings.Contains(page, `data-live="/console/bff/api/events/live"`) {
		t.Fatalf("the first page is not live: %.600s", page)
	}
	body, resp := b.do("GET", e.url+"/console/bff/api/events/live?type=token_leaked&after=1-1", nil,
		map[string]string{"X-Ward-CSRF": "1", "Sec-Fetch-Site": "same-origin", "Origin": e.url})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("live: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var got struct {
		Events []liveEvent `json:"events"`
	}
	if err := json.Unmarshal(body, &got); err != nil || len(got.Events) != 1 {
		t.Fatalf("live answer %s: %v", body, err)
	}
	if c := got.Events[0].Cells; len(c) != 8 || c[2] != "token_leaked" || c[3] != hostileClient || c[6] != hostileRoute {
		t.Errorf("cells = %q", c)
	}
	if strings.Contains(string(body), "<script>") {
		t.Errorf("the JSON holds a raw tag: %s", body)
	}
}

// TestSecurityPagesEscape: every client-chosen field of an event is
// shown as text on the list, the event's page and the overview: no
// element or attribute of it reaches the page.
func TestSecurityPagesEscape(t *testing.T) {
	e := newSecEnv(t)
	e.add(store.SecurityEvent{Type: "token_leaked", ClientID: hostileClient, Subject: hostileSub, Route: hostileRoute,
		Reason: hostileReason, ClientAddr: hostileRoute, Instance: hostileReason})
	ev, _ := e.st.ListEvents(t.Context(), store.EventFilter{})
	b := e.browser()
	b.login("alice")
	for _, p := range []string{"/events", fmt.Sprintf("/events/%d", ev[0].ID), "/security", "/events?client=" + url.QueryEscape(hostileClient)} {
		code, body := b.api(p, nil)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %.300s", p, code, body)
		}
		for _, bad := range []string{"<script>", "<img", "<iframe", "' onmouseover='"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s holds %q unescaped", p, bad)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s does not show the hostile client as text", p)
		}
		if p != "/security" && !strings.Contains(body, "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("%s does not show the hostile route as text", p)
		}
	}
}

// TestEventPage: one event in plain words, its fields, and what Ward
// did: the family revoked as the store holds it, the blocks in force on
// its address and key with a lift form.
func TestEventPage(t *testing.T) {
	e := newSecEnv(t)
	ctx := t.Context()
	now := time.Now()
	fam := &store.Family{ID: "fam-1", ClientID: "app", Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.CreateFamily(ctx, fam, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.st.RevokeFamily(ctx, "fam-1", secevent.RevokeReason, now); err != nil {
		t.Fatal(err)
	}
	e.add(store.SecurityEvent{Type: "token_leaked", ClientID: "app", FamilyID: "fam-1", ClientAddr: "192.0.2.7", JKT: testJKT, Reason: "jkt_mismatch"},
		store.SecurityEvent{Type: "nonce_failure", ClientID: "app"})
	evs, _ := e.st.ListEvents(ctx, store.EventFilter{})
	b := e.browser()
	b.login("alice")
	code, body := b.api(fmt.Sprintf("/events/%d", evs[0].ID), nil)
	for _, want := range []string{"the token has leaked", "Revoked the grant family at", "reason token_leaked",
		"The address 192.0.2.7 is blocked until", "The key " + testJKT + " is blocked until",
		`name="kind" value="address"`, `name="kind" value="key"`, "jkt_mismatch"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("the leak's page lacks %q: %d %.2000s", want, code, body)
		}
	}
	_, body = b.api(fmt.Sprintf("/events/%d", evs[1].ID), nil)
	if !strings.Contains(body, "fresh nonce") || strings.Contains(body, "is blocked until") {
		t.Errorf("the nonce failure's page: %.1500s", body)
	}
	for _, p := range []string{"/events/999999", "/events/abc", "/events/-1"} {
		if code, _ := b.api(p, nil); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}

// TestOverview: the figures count the range's leaks and replays, the
// families revoked and the blocks; the charts are inline SVG; the
// traffic charts come from this process's counters.
func TestOverview(t *testing.T) {
	e := newSecEnv(t)
	rej := prometheus.NewCounterVec(prometheus.CounterOpts{Name: trackRejections}, []string{"reason", "error"})
	acc := prometheus.NewCounterVec(prometheus.CounterOpts{Name: trackAccepted}, []string{"sender"})
	e.reg.MustRegister(rej, acc)
	rej.WithLabelValues("replayed", "invalid_dpop_proof").Add(7)
	acc.WithLabelValues("dpop").Add(40)
	acc.WithLabelValues("bearer").Add(60)
	if err := e.ring.Sample(time.Now()); err != nil {
		t.Fatal(err)
	}
	e.add(store.SecurityEvent{Type: "token_leaked", ClientID: "app"}, store.SecurityEvent{Type: "token_leaked", ClientID: "app"},
		store.SecurityEvent{Type: "refresh_replayed", ClientID: "spa"}, store.SecurityEvent{Type: "consent_granted", ClientID: "quiet"},
		store.SecurityEvent{Type: "token_leaked", ClientID: "old", Time: time.Now().Add(-2 * time.Hour)})
	b := e.browser()
	b.login("alice")
	code, body := b.api("/security?range=1h", nil)
	if code != http.StatusOK {
		t.Fatalf("overview: %d %.500s", code, body)
	}
	for _, want := range []string{
		`<span class="figure">2</span> <span class="label">tokens leaked`,
		`<span class="figure">1</span> <span class="label">refresh tokens replayed`,
		`<span class="figure">1</span> <span class="label">addresses blocked`,
		`<span class="figure">1</span> <span class="label">keys blocked`,
		`aria-labelledby="chart-events-title chart-events-desc"`, "token_leaked 2", "refresh_replayed 1",
		"Gateway refusals by reason", "replayed 7", "bearer 60", "dpop 40", "this instance only",
		`>app</a></td><td>2</td>`, `>spa</a></td><td>1</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if strings.Contains(body, ">quiet</a>") || strings.Contains(body, ">old</a>") {
		t.Errorf("top clients count a consent or an event outside the range")
	}
	if code, body := b.api("/security?range=1y", nil); code != http.StatusBadRequest || !strings.Contains(body, "range:") {
		t.Errorf("a bad range: %d %.300s", code, body)
	}
}

// TestOverviewWithoutTraffic: without a sampler or blocking the overview
// still renders and says so.
func TestOverviewWithoutTraffic(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	code, body := b.api("/security", nil)
	if code != http.StatusOK || !strings.Contains(body, "not sampled in this process") || !strings.Contains(body, "blocking off") {
		t.Fatalf("overview: %d %.1500s", code, body)
	}
	code, body = b.api("/blocks", nil)
	if code != http.StatusOK || !strings.Contains(body, "Blocking is not configured") {
		t.Fatalf("blocks: %d %.500s", code, body)
	}
}

// TestBlocksLift: the blocks in force are listed; lifting one ends it,
// is an event naming the operator, and lists the rest; a bad kind or
// value is refused before the store is asked.
func TestBlocksLift(t *testing.T) {
	e := newSecEnv(t)
	b := e.browser()
	b.login("alice")
	code, body := b.api("/blocks", nil)
	if code != http.StatusOK || !strings.Contains(body, "<code>192.0.2.7</code>") || !strings.Contains(body, "<code>"+testJKT+"</code>") {
		t.Fatalf("blocks: %d %.1500s", code, body)
	}
	code, body = b.api("/blocks/lift", url.Values{"kind": {"address"}, "value": {"192.0.2.7"}})
	if code != http.StatusOK || !strings.Contains(body, "Lifted the block of address 192.0.2.7") || strings.Contains(body, "<code>192.0.2.7</code>") {
		t.Fatalf("lift: %d %.1500s", code, body)
	}
	if ev := e.event(secevent.BlockLifted, "lifted in the console"); ev.Actor != "u-alice" || ev.ClientAddr != "192.0.2.7" {
		t.Errorf("lift event %+v", ev)
	}
	if bs, _ := e.blocks.List(t.Context(), time.Now()); len(bs) != 1 || bs[0].Kind != block.Key {
		t.Errorf("after the lift: %+v", bs)
	}
	if _, body = b.api("/blocks/lift", url.Values{"kind": {"address"}, "value": {"192.0.2.7"}}); !strings.Contains(body, "was not blocked") {
		t.Errorf("lifting again: %.500s", body)
	}
	for _, f := range []url.Values{{"kind": {"user"}, "value": {"x"}}, {"kind": {"key"}, "value": {"short"}},
		{"kind": {"address"}, "value": {"<script>"}}} {
		if code, body := b.api("/blocks/lift", f); code != http.StatusBadRequest || strings.Contains(body, "<script>") {
			t.Errorf("lift %v: %d %.300s", f, code, body)
		}
	}
}

// TestSecurityPagesNonAdmin: a signed-in user without the admin role
// gets none of the security pages, and cannot lift a block.
func TestSecurityPagesNonAdmin(t *testing.T) {
	e := newSecEnv(t)
	e.add(store.SecurityEvent{Type: "token_leaked", ClientID: "app"})
	b := e.browser()
	b.login("bob")
	for _, p := range []string{"/events", "/events/1", "/events/live", "/security", "/blocks"} {
		if code, body := b.api(p, nil); code != http.StatusForbidden || strings.Contains(body, "token_leaked") {
			t.Errorf("bob %s: %d %.200s", p, code, body)
		}
	}
	if code, _ := b.api("/blocks/lift", url.Values{"kind": {"address"}, "value": {"192.0.2.7"}}); code != http.StatusForbidden {
		t.Errorf("bob lift: %d", code)
	}
	if bs, _ := e.blocks.List(t.Context(), time.Now()); len(bs) != 2 {
		t.Errorf("bob lifted a block: %+v", bs)
	}
}

// TestParseCursor: a cursor reads back as written; anything else is
// refused.
func TestParseCursor(t *testing.T) {
	ev := store.SecurityEvent{ID: 42, Time: time.Unix(1700000000, 123456789)}
	c, err := parseCursor(cursor(ev))
	if err != nil || c.ID != 42 || !c.Time.Equal(ev.Time) {
		t.Fatalf("round trip: %+v %v", c, err)
	}
	for _, s := range []string{"1", "-1", "1-", "a-1", "1-0", "1--1", "+1-1", "1-1-1", "99999999999999999999-1", " 1-1"} {
		if _, err := parseCursor(s); err == nil {
			t.Errorf("parseCursor(%q) succeeded", s)
		}
	}
}

// FuzzEventQuery: whatever the query string, parsing never panics, and
// what it accepts is within the filters' bounds: known type and
// severity, short printable client and subject, a cursor that reads
// back the same.
func FuzzEventQuery(f *testing.F) {
	for _, s := range []string{"", "type=token_leaked&client=app&since=1h", "after=1700000000000000000-5",
		"client=%3Cscript%3E", "subject=a%00b", "severity=critical&since=168h", "range=24h", "after=0-1"} {
		f.Add(s)
	}
	now := time.Unix(1800000000, 0)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		_, _ = parseRange(q.Get("range"))
		eq, fl, err := parseEventQuery(q, now)
		if err != nil {
			return
		}
		if len(fl.ClientID) > maxFilterValue || len(fl.Subject) > maxFilterValue || !filterValue(fl.ClientID) || !filterValue(fl.Subject) {
			t.Fatalf("accepted client %q subject %q", fl.ClientID, fl.Subject)
		}
		for _, ty := range fl.Types {
			if secevent.Type(ty).Severity() == "" {
				t.Fatalf("type %q", ty)
			}
		}
		if fl.Since.After(now) {
			t.Fatalf("since %v after now", fl.Since)
		}
		if eq.After != "" {
			back := cursor(store.SecurityEvent{ID: fl.After.ID, Time: fl.After.Time})
			if c2, err := parseCursor(back); err != nil || c2.ID != fl.After.ID || !c2.Time.Equal(fl.After.Time) {
				t.Fatalf("cursor %q read as %+v, written back %q", eq.After, fl.After, back)
			}
		}
	})
}
