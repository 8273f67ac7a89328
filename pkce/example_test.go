package pkce_test

import (
	"fmt"

	"github.com/wardauth/ward/pkce"
)

func Example() {
	// Client: make a verifier and send its challenge in the authorization
	// request. Here, the verifier from RFC 7636 Appendix B.
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	challenge := pkce.Challenge(verifier)
	fmt.Println(challenge)

	// Server, authorization endpoint: accept S256 only.
	fmt.Println(pkce.ValidateChallenge(challenge, "S256"))
	fmt.Println(pkce.ValidateChallenge(challenge, "plain"))

	// Server, token endpoint: check the code_verifier.
	fmt.Println(pkce.Verify(verifier, challenge))
	// Output:
	// E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
	// <nil>
	// pkce: code_challenge_method must be S256 (got "plain")
	// <nil>
}
