package keys_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/store"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newManager(t testing.TB, st store.SigningKeys, opts keys.Options, keks ...keys.KEK) *keys.Manager {
	t.Helper()
	if len(keks) == 0 {
		keks = []keys.KEK{mustKEK(t, 1)}
	}
	m, err := keys.New(st, keks, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func has(set jose.JSONWebKeySet, kid string) bool { return len(set.Key(kid)) == 1 }

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func sign(t *testing.T, m *keys.Manager, now time.Time) (token, kid string) {
	t.Helper()
	k, err := m.Signer(now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(k.JOSE(), (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{"sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out, k.KeyID
}

// verify checks token against the JWKS published at now, as a resource
// server would.
func verify(token string, set jose.JSONWebKeySet) error {
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{keys.ES256, keys.EdDSA})
	if err != nil {
		return err
	}
	kid := jws.Signatures[0].Header.KeyID
	ks := set.Key(kid)
	if len(ks) != 1 {
		return errors.New("kid " + kid + " not in JWKS")
	}
	_, err = jws.Verify(ks[0])
	return err
}

func TestRotationTimeline(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []jose.SignatureAlgorithm{keys.ES256, keys.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			st := newMemStore()
			m := newManager(t, st, keys.Options{Algorithm: alg, PublishAhead: time.Hour, MaxTokenLifetime: 10 * time.Minute})
			if _, err := m.Signer(t0); !errors.Is(err, keys.ErrNoSigningKey) {
				t.Fatalf("Signer before any key: %v", err)
			}
			if err := m.EnsureKey(ctx, t0); err != nil {
				t.Fatal(err)
			}
			tokA, kidA := sign(t, m, t0) // the first key signs immediately
			if err := m.EnsureKey(ctx, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if got := kids(m.JWKS(t0)); len(got) != 1 || got[0] != kidA {
				t.Fatalf("JWKS = %v, want only %s (EnsureKey must not add a key)", got, kidA)
			}

			rot := t0.Add(24 * time.Hour)
			next, err := m.Rotate(ctx, rot)
			if err != nil {
				t.Fatal(err)
			}
			kidB := next.ID
			if next.PrivateEnc != nil {
				t.Error("Rotate returned the private part")
			}
			act := rot.Add(time.Hour)
			exp := act.Add(10 * time.Minute)
			steps := []struct {
				name   string
				at     time.Time
				signer string
				jwks   []string
			}{
				{"before rotation", rot.Add(-time.Second), kidA, []string{kidA}},
				{"at rotation: B published, A signs", rot, kidA, []string{kidA, kidB}},
				{"just before activation", act.Add(-time.Nanosecond), kidA, []string{kidA, kidB}},
				{"at activation: B signs", act, kidB, []string{kidA, kidB}},
				{"just before A expires", exp.Add(-time.Nanosecond), kidB, []string{kidA, kidB}},
				{"A expired", exp, kidB, []string{kidB}},
			}
			var tokLast string
			for _, s := range steps {
				k, err := m.Signer(s.at)
				if err != nil || k.KeyID != s.signer {
					t.Errorf("%s: Signer = %v, %v; want %s", s.name, k, err, s.signer)
				}
				if got := kids(m.JWKS(s.at)); strings.Join(got, ",") != strings.Join(s.jwks, ",") {
					t.Errorf("%s: JWKS = %v, want %v", s.name, got, s.jwks)
				}
				if s.name == "just before activation" {
					tokLast, _ = sign(t, m, s.at)
				}
			}
			// A token signed by A just before the switch verifies until its
			// expiry (at most MaxTokenLifetime later).
			if err := verify(tokLast, m.JWKS(act.Add(10*time.Minute-time.Second))); err != nil {
				t.Errorf("old token at its last second: %v", err)
			}
			if err := verify(tokA, m.JWKS(rot)); err != nil {
				t.Errorf("first token: %v", err)
			}
			if err := verify(tokLast, m.JWKS(exp)); err == nil {
				t.Error("token of an expired key still verifies")
			}
			tokB, _ := sign(t, m, act)
			if err := verify(tokB, m.JWKS(act)); err != nil {
				t.Errorf("new token: %v", err)
			}

			// Listing for `ward keys list`.
			wantStates := []struct {
				at   time.Time
				want string
			}{
				{rot.Add(time.Minute), "current,next"},
				{act, "previous,current"},
				{exp, "expired,current"},
			}
			for _, w := range wantStates {
				infos, err := keys.List(ctx, st, w.at)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, i := range infos {
					got = append(got, i.State.String())
				}
				if strings.Join(got, ",") != w.want {
					t.Errorf("List at %v = %v, want %s", w.at, got, w.want)
				}
			}

			// Maintain prunes A once expired.
			if err := m.Maintain(ctx, exp); err != nil {
				t.Fatal(err)
			}
			if infos, _ := keys.List(ctx, st, exp); len(infos) != 1 || infos[0].ID != kidB {
				t.Errorf("after prune: %+v", infos)
			}
		})
	}
}

func TestMaintainSchedule(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	opts := keys.Options{PublishAhead: time.Hour, MaxTokenLifetime: time.Hour, RotationPeriod: 24 * time.Hour}
	m := newManager(t, st, opts)
	count := func(at time.Time) int {
		infos, err := keys.List(ctx, st, at)
		if err != nil {
			t.Fatal(err)
		}
		return len(infos)
	}
	if err := m.Maintain(ctx, t0); err != nil { // first start: creates a key
		t.Fatal(err)
	}
	if count(t0) != 1 {
		t.Fatalf("keys after first Maintain: %d", count(t0))
	}
	// Every 5 minutes for 4 days: the JWKS always holds the signer and
	// never more than three keys; about one rotation a day.
	var signers []string
	for at := t0; at.Before(t0.Add(96 * time.Hour)); at = at.Add(5 * time.Minute) {
		if err := m.Maintain(ctx, at); err != nil {
			t.Fatal(err)
		}
		k, err := m.Signer(at)
		if err != nil {
			t.Fatalf("%v: %v", at, err)
		}
		if !has(m.JWKS(at), k.KeyID) {
			t.Fatalf("%v: signer %s not in JWKS", at, k.KeyID)
		}
		if n := len(m.JWKS(at).Keys); n > 3 {
			t.Fatalf("%v: %d keys published", at, n)
		}
		if len(signers) == 0 || signers[len(signers)-1] != k.KeyID {
			signers = append(signers, k.KeyID)
		}
	}
	if len(signers) != 4 { // t0, +24h, +48h, +72h
		t.Errorf("%d signing keys in 4 days, want 4", len(signers))
	}
}

// Two instances share one store and rotate at the same instant: the JWKS
// of each keeps the signer, and the extra key does no harm.
func TestConcurrentInstances(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	a := newManager(t, st, keys.Options{})
	b := newManager(t, st, keys.Options{})
	if err := a.EnsureKey(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureKey(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if n := len(a.JWKS(t0).Keys); n != 1 {
		t.Fatalf("b created a second first key: %d keys", n)
	}
	rot := t0.Add(time.Hour)
	var wg sync.WaitGroup
	for _, m := range []*keys.Manager{a, b} {
		wg.Go(func() {
			if _, err := m.Rotate(ctx, rot); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, m := range []*keys.Manager{a, b} {
		if err := m.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range []time.Time{rot, rot.Add(time.Hour), rot.Add(3 * time.Hour)} {
		ka, err1 := a.Signer(at)
		kb, err2 := b.Signer(at)
		if err1 != nil || err2 != nil || ka.KeyID != kb.KeyID {
			t.Fatalf("%v: instances disagree: %v %v %v %v", at, ka, kb, err1, err2)
		}
		for _, m := range []*keys.Manager{a, b} {
			if !has(m.JWKS(at), ka.KeyID) {
				t.Fatalf("%v: signer missing from JWKS", at)
			}
		}
	}
}

func TestRefreshErrors(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	m := newManager(t, st, keys.Options{}, mustKEK(t, 1))
	if err := m.EnsureKey(ctx, t0); err != nil {
		t.Fatal(err)
	}
	k, _ := m.Signer(t0)

	// Another instance with the wrong KEK gets ErrDecrypt naming the kid.
	other := newManager(t, st, keys.Options{}, mustKEK(t, 9))
	err := other.Refresh(ctx)
	if !errors.Is(err, keys.ErrDecrypt) || !strings.Contains(err.Error(), k.KeyID) {
		t.Fatalf("wrong KEK: %v", err)
	}
	// KEK rotation: new KEK first, old one still opens existing keys.
	rotated := newManager(t, st, keys.Options{}, mustKEK(t, 9), mustKEK(t, 1))
	if err := rotated.Refresh(ctx); err != nil {
		t.Fatalf("KEK rotation: %v", err)
	}

	// A ciphertext moved to another row does not open (AAD = kid).
	if _, err := m.Rotate(ctx, t0); err != nil {
		t.Fatal(err)
	}
	rows, _ := st.ListSigningKeys(ctx)
	r0, r1 := *rows[0], *rows[1]
	r0.PrivateEnc = r1.PrivateEnc
	st.set(r0)
	err = newManager(t, st, keys.Options{}).Refresh(ctx)
	if !errors.Is(err, keys.ErrDecrypt) || !strings.Contains(err.Error(), r0.ID) {
		t.Fatalf("swapped ciphertext: %v", err)
	}
	// On error, the previous snapshot stays in use.
	if err := m.Refresh(ctx); err == nil {
		t.Fatal("Refresh succeeded over a swapped ciphertext")
	}
	if _, err := m.Signer(t0); err != nil {
		t.Fatalf("Signer after failed refresh: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	st := newMemStore()
	tests := []struct {
		name string
		keks []keys.KEK
		opts keys.Options
		want error
	}{
		{"defaults", []keys.KEK{{}}, keys.Options{}, nil},
		{"no KEK", nil, keys.Options{}, keys.ErrNoKEK},
		{"RS256", []keys.KEK{{}}, keys.Options{Algorithm: jose.RS256}, keys.ErrUnsupportedAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := keys.New(st, tt.keks, tt.opts); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := keys.New(st, []keys.KEK{{}}, keys.Options{PublishAhead: 2 * time.Hour, RotationPeriod: time.Hour}); err == nil {
		t.Fatal("RotationPeriod < PublishAhead accepted")
	}
}

func TestSignerDoesNotAllocate(t *testing.T) {
	m := newManager(t, newMemStore(), keys.Options{})
	if err := m.EnsureKey(context.Background(), t0); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Signer(t0) }); n != 0 {
		t.Fatalf("Signer allocates %v times", n)
	}
}

func TestRace(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, newMemStore(), keys.Options{PublishAhead: time.Minute, RotationPeriod: 2 * time.Minute})
	if err := m.EnsureKey(ctx, t0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				at := t0.Add(time.Duration(j) * time.Second)
				if i == 0 && j%20 == 0 {
					if err := m.Maintain(ctx, at); err != nil {
						t.Error(err)
					}
					continue
				}
				k, err := m.Signer(at)
				if err != nil {
					t.Error(err)
					return
				}
				_ = m.JWKS(at)
				if j%50 == 0 {
					s, _ := jose.NewSigner(k.JOSE(), nil)
					if _, err := s.Sign([]byte("x")); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSigner(b *testing.B) {
	m := newManager(b, newMemStore(), keys.Options{})
	if err := m.EnsureKey(context.Background(), t0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, _ = m.Signer(t0)
	}
}
