package authz

import (
	"context"
	"net/url"
	"testing"
)

func TestClientCredentialsNoWrite(t *testing.T) {
	h := newHarness(t)
	cs := &countingStore{storeT: h.st}
	h.s.st = cs
	s := h.newSigner()
	for range 3 {
		wantToken(t, h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s))
	}
	if n := cs.writes.Load(); n != 0 {
		t.Fatalf("client_credentials made %d store writes", n)
	}
	_ = context.Background()
}
