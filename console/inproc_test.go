package console

import (
	"net/http"
	"testing"
)

// The in-process transport serves the issuer's origin only: the console
// talks to no one else, whatever URL a response or a setting names.
func TestInprocRefusesOtherOrigins(t *testing.T) {
	served := 0
	tr, err := newInproc(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
		if r.RemoteAddr != "127.0.0.1:0" || r.TLS == nil || r.Host != "as.example" {
			t.Errorf("request as served: %s %v %s", r.RemoteAddr, r.TLS, r.Host)
		}
	}), "https://as.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://as.example/token", "https://as.example:444/token", "https://evil.example/token", "https://as.example.evil/x"} {
		req, _ := http.NewRequest("GET", u, nil)
		if _, err := tr.RoundTrip(req); err == nil {
			t.Errorf("%s: served", u)
		}
	}
	req, _ := http.NewRequest("GET", "https://as.example/token", nil)
	if resp, err := tr.RoundTrip(req); err != nil || resp.StatusCode != 200 || served != 1 {
		t.Fatalf("the issuer: %v %v (served %d)", resp, err, served)
	}
}
