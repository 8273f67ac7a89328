package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// The keys page lists the signing keys; rotating adds one and is a
// key_changed event.
func TestKeysRotate(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	ctx := context.Background()
	before, _ := e.st.ListSigningKeys(ctx)
	code, body := b.api("/keys", nil)
	if code != http.StatusOK || !strings.Contains(body, before[0].ID) {
		t.Fatalf("keys: %d %.500s", code, body)
	}
	code, body = b.api("/keys/rotate", url.Values{})
	after, _ := e.st.ListSigningKeys(ctx)
	if code != http.StatusOK || len(after) != len(before)+1 || !strings.Contains(body, after[len(after)-1].ID) {
		t.Fatalf("rotate: %d, %d keys then %d: %.500s", code, len(before), len(after), body)
	}
	if ev := e.event(secevent.KeyChanged, "rotated"); ev.Actor != "u-alice" {
		t.Errorf("event %+v", ev)
	}
}

// Grants and sessions found by user and by client, and revoked.
func TestGrantsAndSessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	fam := &store.Family{ID: "fam-bob-1", ClientID: "ward-console", Subject: "u-bob", Scope: "ward:admin", CreatedAt: now, ExpiresAt: now.Add(time.Hour), AuthTime: now}
	if err := e.st.CreateFamily(ctx, fam, nil); err != nil {
		t.Fatal(err)
	}
	sess := &store.Session{Hash: []byte("0123456789abcdef0123456789abcdef"), Subject: "u-bob", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("alice")
	code, body := b.api("/grants?user=bob", nil)
	if code != http.StatusOK || !strings.Contains(body, "fam-bob-1") || !strings.Contains(body, sess.SID()) {
		t.Fatalf("by user: %d %.800s", code, body)
	}
	if _, body := b.api("/grants?client=ward-console", nil); !strings.Contains(body, "fam-bob-1") || !strings.Contains(body, "u-alice") {
		t.Errorf("by client: %.800s", body)
	}
	if _, body := b.api("/grants?client=other", nil); strings.Contains(body, "fam-bob-1") {
		t.Errorf("another client's grants: %.500s", body)
	}
	back := url.Values{"back": {"user=bob"}}
	if code, body := b.api("/grants/fam-bob-1/revoke", back); code != http.StatusOK || !strings.Contains(body, "revoked_by_admin") {
		t.Fatalf("revoke: %d %.500s", code, body)
	}
	if f, _ := e.st.GetFamily(ctx, "fam-bob-1"); !f.Revoked() {
		t.Error("the grant is live")
	}
	if ev := e.event(secevent.UserChanged, "grant_revoked"); ev.FamilyID != "fam-bob-1" || ev.Actor != "u-alice" {
		t.Errorf("event %+v", ev)
	}
	if code, _ := b.api("/sessions/u-bob/"+sess.SID()+"/end", back); code != http.StatusOK {
		t.Fatalf("end session: %d", code)
	}
	if ss, _ := e.st.ListSessions(ctx, "u-bob", time.Now()); len(ss) != 0 {
		t.Error("the session is live")
	}
	e.event(secevent.UserChanged, "session_ended")
	if code, _ := b.api("/sessions/u-bob/"+sess.SID()+"/end", back); code != http.StatusNotFound {
		t.Errorf("ending it again: %d", code)
	}
	if code, _ := b.api("/grants/nothing/revoke", back); code != http.StatusNotFound {
		t.Errorf("unknown grant: %d", code)
	}
}
