// Package dpop implements OAuth 2.0 Demonstrating Proof of Possession
// (DPoP, RFC 9449) for both sides of a request.
//
// A client holds a private key and sends, with every request, a proof: a
// short JWT signed with that key, naming the request's method and URL, a
// unique jti, the time, and (for resource requests) the hash of the access
// token. The authorization server binds the tokens it issues to the key's
// thumbprint (cnf.jkt), so a stolen token is useless without the key.
//
// Client side: NewSigner wraps any crypto.Signer (so a KMS or hardware key
// can sign) and Signer.Proof makes a proof, with WithAccessToken and
// WithNonce for the optional claims. GenerateKey makes a key.
//
// Server side: a Verifier performs every check of RFC 9449 §4.3 — one DPoP
// header; a compact JWS of bounded size; typ dpop+jwt; alg in an explicit
// allow-list that can never contain none or HMAC; a public jwk that fits
// alg; the signature; the required claims and their types; htm; htu after
// RFC 3986 normalization against the externally visible URL; the server
// nonce (§8) when configured; iat within a window; ath and the key binding
// (cnf.jkt) when a token is presented — and then the replay rule of §11.1:
// every (key thumbprint, jti) pair is accepted once. Replay state is keyed
// by thumbprint and jti, never by the proof's bytes, because an ECDSA
// signature (r, s) can be re-encoded as (r, n−s).
//
// Failures are *Error values with a stable Reason for logs and metrics
// (replayed, htu_mismatch, iat_too_old, bad_signature, ...), a description
// for the client's developer, and Code for the wire (invalid_dpop_proof or
// use_dpop_nonce, the latter with a fresh nonce in Error.Nonce). Sentinels
// such as ErrReplayed work with errors.Is. ProtocolError maps any of them
// to the *oauth.Error a server answers, the same way at the authorization
// server and at a resource server.
//
// StatelessNonces issues nonces that any instance holding the secret can
// check without shared storage; MemoryReplayStore is a bounded in-process
// ReplayStore for a single instance.
package dpop
