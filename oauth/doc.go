// Package oauth holds the one protocol error type that Ward's HTTP edges
// (the authorization server, the resource middleware and the gateway) use,
// and the two places it is rendered: as an RFC 6749 §5.2 JSON body, and as
// an RFC 6750 §3 / RFC 9449 §7.1 WWW-Authenticate challenge.
//
// Library packages return sentinel errors, or typed errors where the caller
// needs more than identity (dpop's *dpop.Error carries a Reason and a fresh
// nonce), wrapped with %w; the HTTP layer maps them to an *Error once, at
// the edge. A refused DPoP proof is mapped by dpop.ProtocolError (package
// dpop imports this one, never the reverse).
package oauth
