package main

import (
	"os"
	"strings"
	"testing"
)

// TestClientCreateProfile: `ward client create --profile` stores the
// client's FAPI 2.0 profile, and refuses a client the profile does not
// admit, naming the key and the clause.
func TestClientCreateProfile(t *testing.T) {
	dev := []string{"--dev", "--data", t.TempDir()}
	out, code := ward(t, append([]string{"client", "create", "--id", "spa", "--auth-method", "none", "--profile", "fapi2-security",
		"--redirect-uri", "http://127.0.0.1/cb"}, dev...)...)
	if code != 1 || !strings.Contains(out, "auth_method: none is not allowed under fapi2-security: FAPI 2.0 Security Profile §5.3.2.1") {
		t.Fatalf("public client under the profile: %d %s", code, out)
	}
	out, code = ward(t, append([]string{"client", "create", "--id", "x", "--profile", "fapi2"}, dev...)...)
	if code != 1 || !strings.Contains(out, `"fapi2" is not one of fapi2-security, fapi2-message-signing`) {
		t.Fatalf("unknown profile: %d %s", code, out)
	}
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	file := t.TempDir() + "/jwks.json"
	if err := os.WriteFile(file, []byte(jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = ward(t, append([]string{"client", "create", "--id", "tpp", "--auth-method", "private_key_jwt", "--jwks-file", file,
		"--profile", "fapi2-security", "--redirect-uri", "https://tpp.example/cb"}, dev...)...)
	if code != 0 {
		t.Fatalf("private_key_jwt client under the profile: %d %s", code, out)
	}
	out, code = ward(t, append([]string{"client", "show", "tpp"}, dev...)...)
	if code != 0 || !strings.Contains(out, `"Profile": "fapi2-security"`) {
		t.Fatalf("show: %d %s", code, out)
	}
}
