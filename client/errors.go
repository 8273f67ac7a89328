package client

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors, for errors.Is.
var (
	// ErrStateMismatch: the redirect's state is not the one this flow
	// sent (a forged or crossed redirect, RFC 9700 §4.7).
	ErrStateMismatch = errors.New("client: authorization response state does not match")
	// ErrIssuerMismatch: the redirect's iss is absent though the server
	// promised it, or names another server (RFC 9207 §2.4, mix-up attack).
	ErrIssuerMismatch = errors.New("client: authorization response iss does not match the issuer")
	// ErrNotDPoPBound: the server answered with a token that is not
	// DPoP-bound (token_type other than DPoP).
	ErrNotDPoPBound = errors.New("client: the server issued a token that is not DPoP-bound")
	// ErrNotCertificateBound: with WithCertificateBinding, the server
	// answered with a token_type other than Bearer (RFC 8705 §3).
	ErrNotCertificateBound = errors.New("client: the server issued a token that is not certificate-bound")
	// ErrNoRefreshToken: the token cannot be renewed.
	ErrNoRefreshToken = errors.New("client: token expired and there is no refresh token")
	// ErrKeyFilePermissions: a key file is readable by group or others.
	ErrKeyFilePermissions = errors.New("client: key file is readable by group or others")
	// ErrBadResponse: a server's answer cannot be understood.
	ErrBadResponse = errors.New("client: malformed server response")
)

// RetrieveError is an error response from the token or PAR endpoint
// (RFC 6749 §5.2), in the style of golang.org/x/oauth2's RetrieveError:
// fields are named after the RFC parameters.
type RetrieveError struct {
	// Response is the HTTP response; its Body has been read into Body and
	// closed.
	Response *http.Response
	// Body is the response body (at most 64 KiB).
	Body []byte
	// ErrorCode is the RFC 6749 "error" parameter, e.g. invalid_grant,
	// invalid_dpop_proof, use_dpop_nonce.
	ErrorCode string
	// ErrorDescription is the "error_description" parameter.
	ErrorDescription string
	// ErrorURI is the "error_uri" parameter.
	ErrorURI string
}

func (e *RetrieveError) Error() string {
	status := 0
	if e.Response != nil {
		status = e.Response.StatusCode
	}
	switch {
	case e.ErrorCode != "" && e.ErrorDescription != "":
		return fmt.Sprintf("client: token request failed: %d %s: %s", status, e.ErrorCode, e.ErrorDescription)
	case e.ErrorCode != "":
		return fmt.Sprintf("client: token request failed: %d %s", status, e.ErrorCode)
	}
	return fmt.Sprintf("client: token request failed: %d %q", status, clip(string(e.Body)))
}

// AuthorizationError is an error returned to the redirect URI by the
// authorization endpoint (RFC 6749 §4.1.2.1), e.g. access_denied.
type AuthorizationError struct {
	ErrorCode        string
	ErrorDescription string
	ErrorURI         string
}

func (e *AuthorizationError) Error() string {
	if e.ErrorDescription != "" {
		return "client: authorization failed: " + e.ErrorCode + ": " + e.ErrorDescription
	}
	return "client: authorization failed: " + e.ErrorCode
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
