package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wardauth/ward/internal/strictjson"
)

// This file verifies JWT-secured authorization responses (JARM, OpenID
// final): with WithJARM the client asks for response_mode=jwt and accepts
// the redirect only as one signed JWT in the response parameter, checked
// by a JARMVerifier (§2.4) before anything in it is used.

// ErrJARM wraps every reason a JWT-secured authorization response is
// refused (JARM §2.4); the message names the rule.
var ErrJARM = errors.New("client: JWT-secured authorization response refused")

// jarmNames are the names, beyond strictjson.JOSENames, whose case
// variants a response JWT may not carry: the parameters this package
// reads.
var jarmNames = append([]string{"code", "state", "error", "error_description", "error_uri"}, strictjson.JOSENames...)

// maxJARMLifetime bounds exp - now: JARM §2.1 recommends at most 10
// minutes; a response valid far longer is refused (with the leeway).
const maxJARMLifetime = 10 * time.Minute

// JARMVerifier checks the JWT-secured authorization responses one issuer
// sends one client (JARM §2.4): signature by a key of the issuer with an
// algorithm of the allow-list (never none or HMAC), typ absent or JWT, no
// crit, names exact and unique (RFC 8259 §4), iss the issuer, aud naming
// the client, exp in the future and at most 10 minutes away. It is safe
// for concurrent use.
type JARMVerifier struct {
	v *IDTokenVerifier
}

// NewJARMVerifier returns a verifier of the responses issuer signs for
// clientID with a key of keys. The options of ID token verifiers apply:
// WithIDTokenAlgs (default DefaultIDTokenAlgs), WithIDTokenLeeway,
// WithIDTokenClock.
func NewJARMVerifier(issuer, clientID string, keys KeySet, opts ...VerifierOption) *JARMVerifier {
	return &JARMVerifier{v: NewIDTokenVerifier(issuer, clientID, keys, opts...)}
}

// jarmClaims is the payload of a response JWT (JARM §2.1).
type jarmClaims struct {
	Iss              string          `json:"iss"`
	Aud              json.RawMessage `json:"aud"`
	Exp              *float64        `json:"exp"`
	Code             string          `json:"code"`
	State            string          `json:"state"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
	ErrorURI         string          `json:"error_uri"`
}

func jarmRefused(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrJARM}, args...)...)
}

// Verify checks response, the value of the response parameter, and
// returns the authorization response it carries as query parameters
// (iss, code, state, error, error_description, error_uri; the empty ones
// left out), for the checks of a plain response (state, iss). Every
// refusal wraps ErrJARM.
func (j *JARMVerifier) Verify(ctx context.Context, response string) (url.Values, error) {
	if len(response) > 64<<10 {
		return nil, jarmRefused("larger than 64 KiB")
	}
	if err := strictjson.CheckCompact(response, jarmNames); err != nil {
		return nil, jarmRefused("%v", err)
	}
	payload, _, err := j.v.verifySignature(ctx, response)
	if err != nil {
		return nil, jarmRefused("%s", strings.TrimPrefix(err.Error(), ErrIDToken.Error()+": "))
	}
	var c jarmClaims
	if err := strictjson.Unmarshal(payload, &c); err != nil {
		return nil, jarmRefused("claims: %v", err)
	}
	if err := j.checkClaims(&c); err != nil {
		return nil, err
	}
	q := url.Values{}
	for k, v := range map[string]string{"iss": c.Iss, "code": c.Code, "state": c.State,
		"error": c.Error, "error_description": c.ErrorDescription, "error_uri": c.ErrorURI} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q, nil
}

// checkClaims applies JARM §2.4: iss, aud, exp.
func (j *JARMVerifier) checkClaims(c *jarmClaims) error {
	v := j.v
	if c.Iss != v.issuer {
		return jarmRefused("iss %q is not %q", clip(c.Iss), v.issuer)
	}
	aud, err := audiences(c.Aud)
	if err != nil || !contains(aud, v.clientID) {
		return jarmRefused("aud does not name client %q", v.clientID)
	}
	if c.Exp == nil {
		return jarmRefused("exp is required")
	}
	exp, err := numericDate("exp", *c.Exp)
	if err != nil {
		return jarmRefused("exp is not a NumericDate")
	}
	now := v.now()
	if !now.Before(exp.Add(v.leeway)) {
		return jarmRefused("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if exp.Sub(now) > maxJARMLifetime+v.leeway {
		return jarmRefused("exp %s is more than %s away", exp.UTC().Format(time.RFC3339), maxJARMLifetime)
	}
	if (c.Code == "") == (c.Error == "") {
		return jarmRefused("exactly one of code and error is required")
	}
	return nil
}

// JARMVerifier returns the verifier of this client's JWT-secured
// authorization responses: the endpoint's issuer, this client's ID, the
// keys at Endpoint.JWKSURI (those of IDTokenVerifier), the client's clock
// and the asymmetric algorithms of Endpoint.AuthorizationSigningAlgs,
// else DefaultIDTokenAlgs.
func (c *Client) JARMVerifier() *JARMVerifier {
	c.jOnce.Do(func() {
		opts := []VerifierOption{WithIDTokenClock(c.o.clock)}
		if algs := signatureAlgs(c.ep.AuthorizationSigningAlgs); len(algs) > 0 {
			opts = append(opts, WithIDTokenAlgs(algs...))
		}
		c.jarm = NewJARMVerifier(c.ep.Issuer, c.clientID, c.IDTokenVerifier().keys, opts...)
	})
	return c.jarm
}

// authorizationResponse returns the parameters of the redirect q: as they
// are for a plain request; for a JARM request (WithJARM) those of its one
// response parameter, verified, anything beside it ignored. A JARM
// request answered without a response JWT is refused (a downgrade).
func (c *Client) authorizationResponse(ctx context.Context, ar *AuthRequest, q url.Values) (url.Values, error) {
	if !ar.JARM {
		return q, nil
	}
	r := q["response"]
	if len(r) != 1 {
		return nil, jarmRefused("a JWT-secured response was asked for and the redirect carries %d response parameters", len(r))
	}
	if c.ep.Issuer == "" || c.ep.JWKSURI == "" {
		return nil, jarmRefused("Endpoint.Issuer and Endpoint.JWKSURI are needed to verify it")
	}
	return c.JARMVerifier().Verify(ctx, r[0])
}
