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

// TestSyncStaticOIDC: a static client's OpenID Connect metadata and a
// static user's claims, as loaded from a file, reach the store.
func TestSyncStaticOIDC(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cfg := config.Default()
	err := cfg.Decode("ward.yaml", []byte(`clients:
  - id: rp
    auth_method: none
    redirect_uris: [https://rp.example/cb]
    id_token_signed_response_alg: RS256
    userinfo_signed_response_alg: ES256
    subject_type: pairwise
    sector_identifier_uri: https://rp.example/sector.json
    post_logout_redirect_uris: [https://rp.example/bye]
    backchannel_logout_uri: https://rp.example/bc
    backchannel_logout_session_required: true
    logout_revokes_grants: true
    default_max_age: 1h
users:
  - subject: u-zoe
    username: zoe
    password_hash: $argon2id$v=19$m=65536,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA
    claims:
      name: Zoë
      email_verified: false
      address: {country: FR}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := SyncStatic(ctx, h.st, cfg, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := h.st.GetClient(ctx, "rp")
	if err != nil {
		t.Fatal(err)
	}
	if c.IDTokenAlg() != store.AlgRS256 || c.UserinfoSignedResponseAlg != store.AlgES256 || !c.Pairwise() ||
		c.SectorIdentifierURI != "https://rp.example/sector.json" || len(c.PostLogoutRedirectURIs) != 1 ||
		c.BackchannelLogoutURI != "https://rp.example/bc" || !c.BackchannelLogoutSessionRequired ||
		!c.LogoutRevokesGrants || c.DefaultMaxAge != time.Hour {
		t.Fatalf("client metadata not carried: %+v", c)
	}
	u, err := h.st.GetUser(ctx, "u-zoe")
	if err != nil {
		t.Fatal(err)
	}
	if u.Claims.Name != "Zoë" || u.Claims.EmailVerified == nil || *u.Claims.EmailVerified || u.Claims.Address == nil || u.Claims.Address.Country != "FR" {
		t.Fatalf("claims not carried: %+v", u.Claims)
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
