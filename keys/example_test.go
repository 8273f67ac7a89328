package keys_test

import (
	"context"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/keys"
)

func Example() {
	ctx := context.Background()
	// In production: keys.LoadKEK(os.Getenv(keys.EnvKEK), cfg.Keys.KEKFile)
	// and the server's store.
	var kek keys.KEK
	st := newMemStore()

	m, err := keys.New(st, []keys.KEK{kek}, keys.Options{PublishAhead: time.Hour, MaxTokenLifetime: 10 * time.Minute})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := m.EnsureKey(ctx, now); err != nil { // first start
		panic(err)
	}

	// Sign an access token with the current key.
	k, err := m.Signer(now)
	if err != nil {
		panic(err)
	}
	signer, err := jose.NewSigner(k.JOSE(), (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		panic(err)
	}
	jws, _ := signer.Sign([]byte(`{"sub":"alice"}`))
	token, _ := jws.CompactSerialize()

	// A resource server verifies it against the published JWKS.
	parsed, _ := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{keys.ES256})
	jwks := m.JWKS(now)
	kid := parsed.Signatures[0].Header.KeyID
	_, err = parsed.Verify(jwks.Key(kid)[0])
	fmt.Println("kid in header:", kid == k.KeyID, "verified:", err == nil)

	// Rotate: the new key is published now and signs an hour later.
	if _, err := m.Rotate(ctx, now); err != nil {
		panic(err)
	}
	infos, _ := keys.List(ctx, st, now)
	for _, i := range infos {
		fmt.Println(i.Algorithm, i.State)
	}
	fmt.Println("published:", len(m.JWKS(now).Keys))
	// Output:
	// kid in header: true verified: true
	// ES256 current
	// ES256 next
	// published: 2
}
