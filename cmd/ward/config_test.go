package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheckExitCodes: 0 valid, 1 invalid (every problem on stdout),
// 2 usage or unreadable file, as `ward config check -h` documents.
func TestConfigCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid := write("valid.yaml", "issuer: https://as.example\ntls: {cert_file: c.pem, key_file: k.pem}\nkeys: {kek_file: /k}\n")
	invalid := write("invalid.yaml", "issuer: http://as.example\nkeys:\n\tkek_file: /k\ntokenz: {}\n")
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"config", "check", "--config", valid}, 0, []string{valid + ": ok"}},
		{[]string{"config", "check", valid}, 0, []string{valid + ": ok"}},
		{[]string{"config", "check", "--config", invalid}, 1, []string{
			invalid + `:1: issuer: "http://as.example" must use https`,
			invalid + ":3: found character that cannot start any token (line 3 is indented with a tab",
			invalid + `:4: unknown key "tokenz" (did you mean "tokens"?)`,
			"configuration is invalid: 4 problems",
		}},
		{[]string{"config", "check", "--config", filepath.Join(dir, "absent.yaml")}, 2, []string{"no such file"}},
		{[]string{"config", "check"}, 2, []string{"Exit status: 0 valid"}},
		{[]string{"config", "lint", valid}, 2, []string{"Usage: ward config check"}},
		{[]string{"config"}, 2, []string{"Usage: ward config check"}},
		{[]string{"config", "check", "-h"}, 0, []string{"-config", "Exit status: 0 valid; 1 invalid"}},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, &out, &errb)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", c.args, code, c.code, out.String(), errb.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String()+errb.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s%s", c.args, w, out.String(), errb.String())
			}
		}
	}
}
