package client

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/internal/wardtest"
)

// interopDir holds the pinned npm packages (interop/package.json); .ci/run
// installs them with npm ci.
var interopDir = wardtest.InteropDir

// needNode returns node, or skips the test without it or pkgs.
var needNode = wardtest.NeedNode

// TestInteropNpmClientCredentialsDPoP: oauth4webapi and openid-client, as
// real clients with their own DPoP code, obtain DPoP-bound tokens from
// Ward's server by client credentials, through a use_dpop_nonce round
// (server nonces on); the token is bound to the key the npm client made.
func TestInteropNpmClientCredentialsDPoP(t *testing.T) {
	node := needNode(t, "oauth4webapi", "openid-client", "jose")
	for _, lib := range []string{"oauth4webapi", "openid-client"} {
		t.Run(lib, func(t *testing.T) {
			s := newServer(t, withNonces)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(interopDir, "client-credentials-dpop.mjs"), lib, s.issuer, "svc", s.secrets["svc"], "read")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node %s: %v\n%s", lib, err, stderr.String())
			}
			var r struct {
				TokenType   string `json:"token_type"`
				AccessToken string `json:"access_token"`
				JKT         string `json:"jkt"`
				NonceRetry  *bool  `json:"nonce_retry"`
			}
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if !strings.EqualFold(r.TokenType, "DPoP") {
				t.Fatalf("token_type %q, want DPoP", r.TokenType)
			}
			cl := decodeClaims(t, r.AccessToken)
			cnf, _ := cl["cnf"].(map[string]any)
			if cnf["jkt"] == nil || cnf["jkt"] != r.JKT || cl["client_id"] != "svc" {
				t.Fatalf("claims %v: want cnf.jkt %s (the npm client's key)", cl, r.JKT)
			}
			// Nonces were on: the first proof had none, so two requests.
			if n := s.count(authz.PathToken); n != 2 {
				t.Fatalf("%d token requests, want 2 (use_dpop_nonce, then the retry)", n)
			}
			if r.NonceRetry != nil && !*r.NonceRetry {
				t.Fatal("oauth4webapi did not see use_dpop_nonce")
			}
		})
	}
}
