package dpop_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/wardauth/ward/dpop"
)

// A client makes a proof for a resource request that presents an access
// token bound to its key.
func ExampleSigner_Proof() {
	key, err := dpop.GenerateKey(dpop.ES256)
	if err != nil {
		panic(err)
	}
	signer, err := dpop.NewSigner(key)
	if err != nil {
		panic(err)
	}
	proof, err := signer.Proof("GET", "https://api.example.com/v1/accounts?page=2",
		dpop.WithAccessToken("the-access-token"))
	if err != nil {
		panic(err)
	}
	req, _ := http.NewRequest("GET", "https://api.example.com/v1/accounts?page=2", nil)
	req.Header.Set("Authorization", "DPoP the-access-token")
	req.Header.Set("DPoP", proof)
	fmt.Println(signer.Algorithm(), len(signer.Thumbprint()))
	// Output: ES256 43
}

// A resource server checks the proof of a request that presents a token
// whose cnf.jkt is jkt.
func ExampleVerifier_VerifyHTTP() {
	key, _ := dpop.GenerateKey(dpop.ES256)
	signer, _ := dpop.NewSigner(key)
	jkt := signer.Thumbprint() // in real life: the token's cnf.jkt

	verifier, err := dpop.NewVerifier(dpop.WithAllowedAlgorithms(dpop.ES256, dpop.EdDSA))
	if err != nil {
		panic(err)
	}
	proof, _ := signer.Proof("POST", "http://api.example.com/v1/payments", dpop.WithAccessToken("tok"))
	req := httptest.NewRequest("POST", "http://api.example.com/v1/payments", nil)
	req.Header.Set("DPoP", proof)

	if _, err := verifier.VerifyHTTP(context.Background(), req, "tok", jkt); err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("accepted")

	// The same proof again is a replay.
	_, err = verifier.VerifyHTTP(context.Background(), req, "tok", jkt)
	var derr *dpop.Error
	if errors.As(err, &derr) {
		fmt.Println(derr.Reason, derr.Code())
	}
	// Output:
	// accepted
	// replayed invalid_dpop_proof
}

// A server that requires nonces answers the first proof with use_dpop_nonce
// and a fresh nonce, which the client puts in its next proof.
func ExampleNewStatelessNonces() {
	secret := make([]byte, 32) // in real life: 32 random bytes shared by all instances
	nonces, _ := dpop.NewStatelessNonces("https://as.example.com", 0, secret)
	verifier, _ := dpop.NewVerifier(dpop.WithNonces(nonces))

	key, _ := dpop.GenerateKey(dpop.ES256)
	signer, _ := dpop.NewSigner(key)
	proof, _ := signer.Proof("POST", "https://as.example.com/token")
	_, err := verifier.Verify(context.Background(), dpop.Request{
		Proofs: []string{proof}, Method: "POST", URL: "https://as.example.com/token",
	})
	var derr *dpop.Error
	errors.As(err, &derr)
	fmt.Println(derr.Code(), derr.Nonce != "")

	proof, _ = signer.Proof("POST", "https://as.example.com/token", dpop.WithNonce(derr.Nonce))
	_, err = verifier.Verify(context.Background(), dpop.Request{
		Proofs: []string{proof}, Method: "POST", URL: "https://as.example.com/token",
	})
	fmt.Println(err)
	// Output:
	// use_dpop_nonce true
	// <nil>
}
