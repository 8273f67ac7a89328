package secevent_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/wardauth/ward/secevent"
)

// A gateway signs an event as a Security Event Token; the authorization
// server, which knows the gateway's public key, verifies it.
func ExampleSETReceiver() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := secevent.NewSETSigner(key, "https://gw-a.internal", "https://auth.example.com")
	now := time.Now()
	set, _ := signer.Sign(secevent.Event{Time: now, Type: secevent.TokenLeaked,
		FamilyID: "hVb2n1Kx0c9R_eT3uQw-3A", Reason: "dpop_token_as_bearer"}, "https://auth.example.com", now)

	recv := &secevent.SETReceiver{Audience: "https://auth.example.com",
		Senders: map[string][]*ecdsa.PublicKey{"https://gw-a.internal": {&key.PublicKey}}}
	got, err := recv.Verify([]byte(set))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Issuer, got.Event.Type, got.Event.FamilyID)

	_, err = (&secevent.SETReceiver{Audience: "https://other.example.com", Senders: recv.Senders}).Verify([]byte(set))
	fmt.Println(err)
	// Output:
	// https://gw-a.internal token_leaked hVb2n1Kx0c9R_eT3uQw-3A
	// secevent: SET refused: invalid_audience: the SET's aud must be this server's issuer
}
