package main

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// TestClientTokenAndDynamicClients: ward client token prints an initial
// access token once and stores only its hash (single use when asked);
// ward client list marks dynamic clients, show hides their registration
// token hash, and delete removes them.
func TestClientTokenAndDynamicClients(t *testing.T) {
	data := t.TempDir()
	dev := []string{"--dev", "--data", data}
	out, code := ward(t, append([]string{"client", "token", "--ttl", "1h", "--single-use"}, dev...)...)
	if code != 0 || !strings.Contains(out, "initial_access_token: ") || !strings.Contains(out, "single use: true") {
		t.Fatalf("client token: %d %s", code, out)
	}
	tok := strings.Fields(strings.SplitN(out, "initial_access_token: ", 2)[1])[0]
	if len(tok) < 43 {
		t.Fatalf("token %q shorter than 256 bits", tok)
	}
	if _, code := ward(t, append([]string{"client", "token", "--ttl", "-1h"}, dev...)...); code != 1 {
		t.Fatalf("negative ttl accepted")
	}

	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(data, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UseInitialAccessToken(ctx, []byte(tok), time.Now()); err == nil {
		t.Fatal("the token is stored in clear")
	}
	sum := sha256.Sum256([]byte(tok))
	if got, err := st.UseInitialAccessToken(ctx, sum[:], time.Now()); err != nil || !got.SingleUse {
		t.Fatalf("the token's SHA-256 is not stored: %v %+v", err, got)
	}
	if err := st.CreateClient(ctx, &store.Client{ID: "dyn_abc", Name: "agent", AuthMethod: "none",
		SenderConstraint: store.ConstraintDPoP, Dynamic: true, RegistrationTokenHash: []byte("hash-of-rat"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, code = ward(t, append([]string{"client", "list"}, dev...)...)
	if code != 0 || !strings.Contains(out, "DYNAMIC") || !slices.Equal(strings.Fields(lineOf(out, "dyn_abc"))[3:], []string{"false", "true"}) {
		t.Fatalf("client list: %d %s", code, out)
	}
	out, code = ward(t, append([]string{"client", "show", "dyn_abc"}, dev...)...)
	if code != 0 || !strings.Contains(out, `"Dynamic": true`) || strings.Contains(out, `"RegistrationTokenHash": "`) {
		t.Fatalf("client show: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"client", "delete", "dyn_abc"}, dev...)...); code != 0 {
		t.Fatalf("delete: %d %s", code, out)
	}
}

func lineOf(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
