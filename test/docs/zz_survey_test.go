package docs

import "testing"

func TestZZWhere(t *testing.T) {
	for _, k := range collectLogKeys(t, root(t)) {
		switch k.key {
		case "error", "subject", "sub", "ip", "addr", "iss", "issuer", "routes", "errors", "cert", "remote", "jkt", "key":
			t.Logf("%s %s", k.key, k.pos)
		}
	}
}
