package authz

import (
	"context"
	"encoding/hex"
	"errors"
	"github.com/wardauth/ward/oauth"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/store"
)

// TestSyncStatic: static clients and users from the configuration reach
// the store; secrets only as SHA-256, passwords only as argon2id.
func TestSyncStatic(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cfg := config.Default()
	cfg.Clients = []config.Client{
		{ID: "s1", AuthMethod: oauth.AuthSecretBasic, Secret: "s3cret", GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}},
		{ID: "s2", AuthMethod: oauth.AuthSecretPost, SecretHash: hex.EncodeToString(HashClientSecret("other"))},
	}
	cfg.Users = []config.User{{Subject: "u-bob", Username: "bob", Password: "hunter2hunter2"}}
	if err := SyncStatic(ctx, h.st, cfg, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := h.st.GetClient(ctx, "s1")
	if err != nil || string(c.SecretHash) != string(HashClientSecret("s3cret")) || !c.Static || c.SenderConstraint != store.ConstraintDPoP {
		t.Fatalf("client %+v %v", c, err)
	}
	u, err := h.st.GetUserByUsername(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := password.Verify("hunter2hunter2", u.PasswordHash); !ok {
		t.Fatal("password not hashed with argon2id")
	}
	// A second sync is an upsert.
	if err := SyncStatic(ctx, h.st, cfg, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateClient(ctx, h.st, &store.Client{ID: "s1", AuthMethod: oauth.AuthNone}, time.Now()); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("duplicate client: %v", err)
	}
	if _, err := CreateClient(ctx, h.st, &store.Client{ID: "pub", AuthMethod: oauth.AuthNone, SenderConstraint: store.ConstraintBearer}, time.Now()); !errors.Is(err, ErrConfig) {
		t.Fatalf("public bearer client: %v", err)
	}
}

// TestSweep: expired codes are removed by the sweeper.
func TestSweep(t *testing.T) {
	h := newHarness(t)
	h.code(h.newBrowser(), "web", webRedirect, nil)
	h.clk.Advance(24 * time.Hour)
	n, err := h.s.Sweep(context.Background())
	if err != nil || n == 0 {
		t.Fatalf("Sweep removed %d rows, err %v", n, err)
	}
}
