// Package policy decides which authenticated callers may do what on a
// route, in the spirit of Istio's AuthorizationPolicy.
//
// A Policy is a list of rules. Each rule has an action (allow or deny) and
// conditions, all of which must hold for the rule to match: principals
// (typed strings such as "client:app", "sub:alice", or SPIFFE IDs
// "spiffe://example.org/ns/prod/sa/api" read from a verified client
// certificate), HTTP methods, paths, and scopes the token must grant. A matching deny rule wins over any allow rule; a
// request no allow rule matches is refused (default deny).
//
// # Paths
//
// Rules match the decoded path, and the path must be unambiguous: CleanPath
// refuses, rather than guesses at, anything two servers could read
// differently: dot segments ("." and "..", also percent-encoded), segments
// ending in a dot, empty segments ("//"), encoded slashes and backslashes
// ("%2F", "%5C"), any backslash, a percent sign left after decoding (double
// encoding such as "%252e"), ";" path parameters, control characters and
// invalid percent-encoding. Matching is case-sensitive. A gateway forwards
// the cleaned path, so the upstream sees exactly what the policy matched.
//
// Path patterns: "/x" (exact), "/x/*" (prefix: "/x" and everything below
// it), "*.json" (suffix), "*" (any path).
//
// # SPIFFE principals
//
// A SPIFFE principal is exact ("spiffe://prod/ns/payments/sa/order-service")
// or a prefix ending in "/*" ("spiffe://prod/ns/payments/*": every workload
// whose ID path starts with /ns/payments/, not /ns/payments itself nor
// /ns/payments-eu/...; "spiffe://prod/*": every workload of the trust
// domain prod). Both are parsed with go-spiffe's spiffeid package when the
// policy is compiled, and matched byte for byte against the normalised ID
// of the caller's certificate (SPIFFE), so that only
// spiffe://prod/ns/payments/sa/order-service may POST /api/v1/charges is
//
//	{Action: Allow, Principals: []string{"spiffe://prod/ns/payments/sa/order-service"},
//	 Methods: []string{"POST"}, Paths: []string{"/api/v1/charges"}}
package policy
