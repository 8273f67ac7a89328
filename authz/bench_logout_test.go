package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/store"
)

// BenchmarkBuildLogoutToken: the claims and one ES256 signature.
func BenchmarkBuildLogoutToken(b *testing.B) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := &keys.SigningKey{KeyID: "k1", Algorithm: jose.ES256, Signer: priv}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		c, err := newLogoutClaims("https://ward.example", "web", "u-alice", "sid", now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := buildLogoutToken(k, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliverLogouts: one outbox round of 16 deliveries on SQLite
// (claim, sign, POST to a loopback receiver, finish), per op.
func BenchmarkDeliverLogouts(b *testing.B) {
	rc := newReceiver(b, http.StatusOK)
	h := newHarness(b)
	h.updateClient("web", func(c *store.Client) { c.BackchannelLogoutURI = rc.srv.URL + "/bc" })
	i := 0
	for b.Loop() {
		b.StopTimer()
		now := h.clk.Now()
		var ds []*store.LogoutDelivery
		for range backchannelBatch {
			i++
			ds = append(ds, &store.LogoutDelivery{ID: fmt.Sprint("d", i), ClientID: "web", Subject: "u-alice", SID: "sid",
				NextAt: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		}
		if err := h.st.EnqueueLogouts(b.Context(), ds); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := h.s.DeliverLogouts(b.Context()); n != backchannelBatch || err != nil {
			b.Fatalf("%d %v", n, err)
		}
	}
}
