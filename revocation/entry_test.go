package revocation_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/revocation"
)

// TestPageWire: a page survives the wire; exp rounds up and revoked_at
// down, so neither shortens a refusal.
func TestPageWire(t *testing.T) {
	p := revocation.Page{Entries: []revocation.Entry{
		{JTI: "j1", RevokedAt: t0.Add(1500 * time.Millisecond), Expires: t0.Add(time.Hour + time.Millisecond)},
		{GrantID: "g1", RevokedAt: t0, Expires: t0.Add(time.Hour)},
	}, Next: revocation.Cursor(t0.Add(1500 * time.Millisecond)), More: true}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := revocation.DecodePage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.More || !time.Time(got.Next).Equal(time.Time(p.Next)) || len(got.Entries) != 2 {
		t.Fatalf("decoded %+v from %s", got, b)
	}
	e := got.Entries[0]
	if e.JTI != "j1" || !e.RevokedAt.Equal(t0.Add(time.Second)) || !e.Expires.Equal(t0.Add(time.Hour+time.Second)) {
		t.Fatalf("entry 0: %+v", e)
	}
}

// TestDecodePageRefuses: malformed pages are refused whole.
func TestDecodePageRefuses(t *testing.T) {
	long := strings.Repeat("x", revocation.MaxIDLength+1)
	for name, body := range map[string]string{
		"not JSON":               `{`,
		"both ids":               `{"revocations":[{"jti":"a","grant_id":"b","exp":1,"revoked_at":0}],"next":"1"}`,
		"no id":                  `{"revocations":[{"exp":1,"revoked_at":0}],"next":"1"}`,
		"no exp":                 `{"revocations":[{"jti":"a","revoked_at":0}],"next":"1"}`,
		"id too long":            `{"revocations":[{"jti":"` + long + `","exp":1,"revoked_at":0}],"next":"1"}`,
		"bad cursor":             `{"revocations":[],"next":"-5"}`,
		"cursor no int":          `{"revocations":[],"next":"soon"}`,
		"revocations not a list": `{"revocations":"x","next":"1"}`,
	} {
		if _, err := revocation.DecodePage([]byte(body)); !errors.Is(err, revocation.ErrFeed) {
			t.Errorf("%s: %v, want ErrFeed", name, err)
		}
	}
}

func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"revocations":[{"jti":"a","exp":2,"revoked_at":1},{"grant_id":"g","exp":3,"revoked_at":1}],"next":"1000","more":true}`))
	f.Add([]byte(`{"revocations":[],"next":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := revocation.DecodePage(b)
		if err != nil {
			return
		}
		for _, e := range p.Entries {
			if (e.JTI == "") == (e.GrantID == "") || len(e.JTI) > revocation.MaxIDLength || len(e.GrantID) > revocation.MaxIDLength {
				t.Fatalf("accepted entry %+v", e)
			}
		}
		// What decodes encodes and decodes to the same ids.
		b2, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := revocation.DecodePage(b2)
		if err != nil || len(p2.Entries) != len(p.Entries) {
			t.Fatalf("re-decoding %s: %v", b2, err)
		}
	})
}

// TestHTTPSource: the source authenticates with client_secret_basic,
// sends the cursor, and refuses an error status or an oversized answer.
func TestHTTPSource(t *testing.T) {
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "gw%3Aone" || secret != "s3cret" || r.Method != http.MethodPost || r.FormValue("since") != "1000" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	src := &revocation.HTTP{URL: srv.URL, ClientID: "gw:one", ClientSecret: "s3cret", Client: srv.Client()}
	since := revocation.Cursor(time.Unix(0, 1000))
	status, body = http.StatusOK, `{"revocations":[{"jti":"a","exp":2,"revoked_at":1}],"next":"2000"}`
	p, err := src.Revocations(context.Background(), since)
	if err != nil || len(p.Entries) != 1 || p.Entries[0].JTI != "a" {
		t.Fatalf("Revocations = %+v, %v", p, err)
	}
	status = http.StatusUnauthorized
	if _, err := src.Revocations(context.Background(), since); !errors.Is(err, revocation.ErrFeed) {
		t.Fatalf("401: %v, want ErrFeed", err)
	}
	status, body = http.StatusOK, `{"revocations":[],"next":"1","x":"`+strings.Repeat("x", revocation.MaxPageBytes)+`"}`
	if _, err := src.Revocations(context.Background(), since); !errors.Is(err, revocation.ErrFeed) {
		t.Fatalf("oversized: %v, want ErrFeed", err)
	}
}
