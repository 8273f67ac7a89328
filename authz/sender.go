package authz

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// This file is the sender-constraint decision of the token endpoint and of
// the pushed authorization request endpoint, for both mechanisms: DPoP
// (RFC 9449) and certificate-bound tokens (RFC 8705 §3). /token calls
// proveSender from every grant; /par calls parProof; the refresh grant's
// reuse grace asks otherKey whether a refused proof showed another key. All
// DPoP proofs go through verifyProof, so both endpoints verify alike.

// binding is what an issued token is bound to.
type binding struct {
	jkt string // DPoP key thumbprint, "" when unbound
	x5t string // client certificate x5t#S256 (RFC 8705 §3), "" when unbound
}

// proveSender checks that a token request satisfies the client's
// sender-constraint policy and returns what the tokens are bound to: a DPoP
// key (RFC 9449, proveDPoP) or the request's client certificate (RFC 8705
// §3). jkt and x5t, when not empty, are what a grant is already bound to (a
// code's dpop_jkt; a refresh token family's key or certificate) and the
// request must prove the same.
//
//	mtls          a client certificate is required; tokens carry cnf.x5t#S256
//	dpop_or_mtls  a DPoP proof binds to its key; without one, a certificate
//	dpop, bearer  DPoP as before; a certificate alone binds nothing
func (s *Server) proveSender(ctx context.Context, r *http.Request, c *client, jkt, x5t string) (binding, error) {
	if x5t != "" {
		// A family bound to a certificate (a public client's refresh
		// tokens): the same certificate, nothing else, may use it.
		thumb := s.presentedThumbprint(r)
		if thumb == "" || subtle.ConstantTimeCompare([]byte(thumb), []byte(x5t)) != 1 {
			return binding{}, oauth.New(oauth.InvalidGrant, "the refresh token is bound to a client certificate; present the same certificate over mTLS")
		}
		return binding{x5t: thumb}, nil
	}
	switch c.SenderConstraint {
	case store.ConstraintMTLS:
		if jkt != "" {
			// Cannot happen through /authorize (codes of mtls clients
			// carry no dpop_jkt unless the client sent one): honour it.
			return s.proveDPoP(ctx, r, c, jkt)
		}
		thumb := s.presentedThumbprint(r)
		if thumb == "" {
			return binding{}, oauth.New(oauth.InvalidRequest, "this client requires certificate-bound tokens: call the token endpoint over mTLS with a client certificate")
		}
		return binding{x5t: thumb}, nil
	case store.ConstraintDPoPOrMTLS:
		if len(r.Header.Values("DPoP")) == 0 && jkt == "" {
			if thumb := s.presentedThumbprint(r); thumb != "" {
				return binding{x5t: thumb}, nil
			}
		}
	}
	return s.proveDPoP(ctx, r, c, jkt)
}

// proveDPoP checks the DPoP proof of a token request against the
// client's sender-constraint policy and returns what the tokens are bound
// to. jkt, when not empty, is the key the proof must use (a code's
// dpop_jkt, a bound refresh token's family). proveSender calls it once
// certificate binding (RFC 8705) did not apply.
func (s *Server) proveDPoP(ctx context.Context, r *http.Request, c *client, jkt string) (binding, error) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) == 0 {
		return binding{}, s.noProof(c, jkt)
	}
	p, err := s.verifyProof(ctx, r, PathToken, proofs, jkt)
	if err != nil {
		return binding{}, err
	}
	return binding{jkt: p.Thumbprint}, nil
}

// noProof decides a token request without a DPoP header: nil (an unbound
// token) for a bearer client with no bound grant, invalid_dpop_proof
// otherwise — with a fresh nonce when nonces are on (RFC 9449 §8).
func (s *Server) noProof(c *client, jkt string) error {
	if jkt != "" || c.SenderConstraint != store.ConstraintBearer {
		s.metrics.dpopRejected(dpop.ReasonMissing)
	}
	if jkt != "" {
		return oauth.New(oauth.InvalidDPoPProof, "a DPoP proof with the key this grant is bound to is required")
	}
	if c.SenderConstraint == store.ConstraintBearer {
		return nil
	}
	// dpop (default, also for public clients), dpop_or_mtls without a
	// client certificate, and mtls with a DPoP-bound code: a proof is
	// required.
	if s.nonces {
		return &oauth.Error{Code: oauth.InvalidDPoPProof, Description: "this client must prove possession of a key with a DPoP proof", Status: http.StatusBadRequest, DPoPNonce: s.dpop.Nonce()}
	}
	return oauth.New(oauth.InvalidDPoPProof, "this client must prove possession of a key with a DPoP proof")
}

// parProof checks the DPoP proof of a pushed authorization request (RFC
// 9449 §10.1: a server supporting PAR and DPoP accepts a proof there as
// well as dpop_jkt). The proof passes every check of the token endpoint's
// — verifyProof, htu the PAR endpoint of the issuer, htm POST, replay, and
// the nonce when nonces are on, with the use_dpop_nonce challenge of §8 —
// and its key's thumbprint is returned, to become the request's dpop_jkt.
// A dpop_jkt naming another key is refused. Without a proof it returns "":
// dpop_jkt alone (or nothing) binds as before.
func (s *Server) parProof(r *http.Request, dpopJKT string) (string, error) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) == 0 {
		return "", nil
	}
	p, err := s.verifyProof(r.Context(), r, PathPAR, proofs, "")
	if err != nil {
		return "", err
	}
	if dpopJKT != "" && !dpop.MatchThumbprint(p.Thumbprint, dpopJKT) {
		s.metrics.dpopRejected(dpop.ReasonKeyMismatch)
		return "", oauth.New(oauth.InvalidDPoPProof, "dpop_jkt is not the thumbprint of the DPoP proof's key (RFC 9449 §10.1)")
	}
	return p.Thumbprint, nil
}

// verifyProof verifies the DPoP proofs of a request to the endpoint at path
// (its htu, RFC 9449 §4.3 (9)) with the server's one verifier; jkt, when
// not empty, is the key the proof must use. A refusal is counted and
// returned as the protocol error.
func (s *Server) verifyProof(ctx context.Context, r *http.Request, path string, proofs []string, jkt string) (*dpop.Proof, error) {
	ctx, end := startSpan(ctx, "authz.dpop_verify") // tracing.go
	p, err := s.dpop.Verify(ctx, dpop.Request{Proofs: proofs, Method: r.Method, URL: s.url(path), JKT: jkt})
	end(err)
	if err != nil {
		reason := dpopReason(err)
		s.metrics.dpopRejected(reason)
		s.logRefusal(r, proofRefusalLevel(reason), "dpop proof refused", string(reason), "path", path)
		s.emitProofRefused(r, reason) // events.go
		s.strikeProof(r, reason)      // block.go
		// RFC 9449 §5: the token endpoint answers 400 (RFC 6749 §5.2).
		return nil, dpop.ProtocolError(err, http.StatusBadRequest)
	}
	if err := s.blockedKey(ctx, r, p.Thumbprint); err != nil { // block.go
		return nil, err
	}
	return p, nil
}

// presentedThumbprint is the x5t#S256 of the request's client certificate,
// "" when there is none. The certificate's chain does not matter for binding
// (RFC 8705 §3: a self-signed certificate binds as well); proof of
// possession of its key was made in the TLS handshake, here or at a trusted
// proxy.
func (s *Server) presentedThumbprint(r *http.Request) string {
	cert, err := mtls.PresentedCertificate(r, s.opts.MTLS)
	if err != nil {
		return ""
	}
	return mtls.Thumbprint(cert)
}

// otherKey reports whether a refused sender proof shows a key other than
// the family's: no DPoP proof, or a valid one by another key (RFC 9449
// §4.3 (12)), for a DPoP-bound family; no certificate or another one for a
// certificate-bound family. A proof refused for any other reason (a nonce
// to fetch, a clock off, the replay store down) proves nothing either way.
// The refresh grant's reuse grace (grant_refresh.go) revokes the family
// when it does.
func (s *Server) otherKey(r *http.Request, fam *store.Family, err error) bool {
	if fam.CertThumbprint != "" {
		return subtle.ConstantTimeCompare([]byte(s.presentedThumbprint(r)), []byte(fam.CertThumbprint)) != 1
	}
	if fam.JKT == "" {
		return false
	}
	if len(r.Header.Values("DPoP")) == 0 {
		return true
	}
	var oe *oauth.Error
	return errors.As(err, &oe) && oe.Reason == string(dpop.ReasonKeyMismatch)
}
