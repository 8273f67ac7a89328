package authz

import (
	"context"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// This file is the JWT response of the introspection endpoint (RFC 9701):
// a resource server that sends Accept: application/token-introspection+jwt
// gets the RFC 7662 answer — exactly the one a plain request would get,
// the access rules of introspect.go unchanged — inside a JWT signed by
// the server, typ token-introspection+jwt, for itself (aud).

// Media type and JWT type of RFC 9701 §4 and §5.
const (
	mediaTypeIntrospectionJWT = "application/token-introspection+jwt"
	typIntrospectionJWT       = "token-introspection+jwt"
)

// introspectionJWT is the payload of RFC 9701 §5: iss, aud (the caller's
// client_id), iat, and the RFC 7662 §2.2 response in token_introspection,
// never at the top level, where its sub or exp could make the JWT pass
// for an access token (§8.1). The type is explicit for the same reason.
type introspectionJWT struct {
	Issuer             string         `json:"iss"`
	Audience           string         `json:"aud"`
	IssuedAt           int64          `json:"iat"`
	TokenIntrospection *introspection `json:"token_introspection"`
}

// wantsIntrospectionJWT reports whether the Accept header prefers the JWT
// response (RFC 9701 §4): application/token-introspection+jwt is
// acceptable (q > 0) and no less preferred than application/json. No
// Accept, or one that does not name it, gets plain JSON.
func wantsIntrospectionJWT(accept []string) bool {
	jwtQ, jsonQ := -1.0, -1.0
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || !(f >= 0 && f <= 1) { // NaN included
					continue
				}
				q = f
			}
			switch mt {
			case mediaTypeIntrospectionJWT:
				jwtQ = max(jwtQ, q)
			case "application/json", "application/*", "*/*":
				jsonQ = max(jsonQ, q)
			}
		}
	}
	return jwtQ > 0 && jwtQ >= jsonQ
}

// writeIntrospectionJWT signs resp for caller with the algorithm it
// registered (introspection_signed_response_alg, RFC 9701 §6; the
// primary key when none) and writes it.
func (s *Server) writeIntrospectionJWT(ctx context.Context, w http.ResponseWriter, caller *client, resp *introspection) error {
	k, err := s.messageSigner(ctx, caller, "introspection_signed_response_alg", caller.IntrospectionSignedResponseAlg)
	if err != nil {
		return err
	}
	jwt, err := signJWT(k, typIntrospectionJWT, introspectionJWT{
		Issuer: s.issuer, Audience: caller.ID, IssuedAt: s.now().Unix(), TokenIntrospection: resp,
	})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", mediaTypeIntrospectionJWT)
	h.Set("Cache-Control", "no-store")
	_, err = io.WriteString(w, jwt)
	return err
}
