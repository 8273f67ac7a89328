package keys_test

import (
	"context"
	"crypto/rsa"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/store/sqlstore"
)

// TestRS256Chain: the RS256 chain (for OpenID Connect clients that ask
// for RS256 ID tokens) exists only once asked for, never becomes the
// access-token signer, is published beside the primary key, and rotates
// on its own: rotating one chain never retires the other's key.
func TestRS256Chain(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	m := newManager(t, st, keys.Options{})
	if err := m.EnsureKey(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SignerFor(keys.RS256, t0); err == nil {
		t.Fatal("an RS256 key exists before anyone asked for one")
	}
	if err := m.EnsureKeyFor(ctx, keys.RS256, t0); err != nil {
		t.Fatal(err)
	}
	rk, err := m.SignerFor(keys.RS256, t0)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := rk.Signer.Public().(*rsa.PublicKey); !ok || pub.N.BitLen() < 2048 {
		t.Fatalf("RS256 key is %T, want RSA of at least 2048 bits", rk.Signer.Public())
	}
	ek, err := m.Signer(t0)
	if err != nil || ek.Algorithm != keys.ES256 {
		t.Fatalf("primary signer = %+v, %v; want the ES256 key", ek, err)
	}
	if got := m.JWKS(t0); !has(got, rk.KeyID) || !has(got, ek.KeyID) {
		t.Fatalf("JWKS %v lacks one of the two keys", kids(got))
	}
	// `ward keys list`: each chain has its current key.
	list, err := keys.List(ctx, st, t0)
	if err != nil || len(list) != 2 || list[0].State != keys.StateCurrent || list[1].State != keys.StateCurrent {
		t.Fatalf("List = %+v, %v; want two current keys", list, err)
	}
	// A JWS made with the RS256 key through go-jose verifies with the
	// published key.
	s, err := jose.NewSigner(rk.JOSE(), nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign([]byte(`{"sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	set := m.JWKS(t0)
	if _, err := obj.Verify(set.Key(rk.KeyID)[0].Key); err != nil {
		t.Fatalf("RS256 signature does not verify: %v", err)
	}
	// Rotating the primary chain leaves the RS256 key signing.
	if _, err := m.Rotate(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(3 * time.Hour)
	if k, err := m.SignerFor(keys.RS256, later); err != nil || k.KeyID != rk.KeyID {
		t.Fatalf("after a primary rotation the RS256 signer is %v, %v; want %s", k, err, rk.KeyID)
	}
	// Maintain rotates the RS256 chain once its key is old enough.
	late := t0.Add(keys.DefaultRotationPeriod)
	if err := m.Maintain(ctx, late); err != nil {
		t.Fatal(err)
	}
	k, err := m.SignerFor(keys.RS256, late.Add(keys.DefaultPublishAhead))
	if err != nil || k.KeyID == rk.KeyID || k.Algorithm != keys.RS256 {
		t.Fatalf("RS256 chain not rotated by Maintain: %+v, %v", k, err)
	}
}

// TestRS256FirstKeyOnce: many first RS256 ID tokens at once, on instances
// sharing a store, make one RSA key between them, as the primary chain's
// first key (TestFirstKeyOnceAcrossInstances).
func TestRS256FirstKeyOnce(t *testing.T) {
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kek := mustKEK(t, 7)
	now := time.Now()
	ms := make([]*keys.Manager, 4)
	for i := range ms {
		if ms[i], err = keys.New(st, []keys.KEK{kek}, keys.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := ms[i].EnsureKey(t.Context(), now); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range 8 {
		m := ms[i%len(ms)]
		wg.Go(func() {
			if err := m.EnsureKeyFor(t.Context(), keys.RS256, now); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	list, err := keys.List(t.Context(), st, now)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range list {
		if k.Algorithm == string(keys.RS256) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d RS256 keys made by instances asking at once, want 1", n)
	}
	for i, m := range ms {
		if _, err := m.SignerFor(keys.RS256, now.Add(time.Second)); err != nil {
			t.Fatalf("instance %d has no RS256 signer: %v", i, err)
		}
	}
}
