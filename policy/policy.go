package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalidRule is returned by New for a rule it cannot compile.
var ErrInvalidRule = errors.New("policy: invalid rule")

// Principal names a caller: "client:" + client_id, "sub:" + subject, or a
// SPIFFE ID ("spiffe://trust-domain/path").
type Principal string

// Client returns the principal of an OAuth client.
func Client(clientID string) Principal { return Principal("client:" + clientID) }

// Subject returns the principal of a token's subject.
func Subject(sub string) Principal { return Principal("sub:" + sub) }

// Action is what a matching rule does.
type Action string

// Actions.
const (
	Allow Action = "allow"
	Deny  Action = "deny"
)

// Rule is one authorization rule. Every non-empty condition must hold for
// the rule to match.
type Rule struct {
	// Name identifies the rule in decisions and logs; optional.
	Name   string
	Action Action
	// Principals: the caller must be one of them; "*" is any
	// authenticated caller; "spiffe://td/path/*" is any workload whose
	// SPIFFE ID is below spiffe://td/path/. Empty: anyone, authenticated or
	// not.
	Principals []string
	// Methods: HTTP methods (upper case); empty or "*" is any.
	Methods []string
	// Paths: exact "/x", prefix "/x/*", suffix "*.json", or "*".
	// Empty is any path.
	Paths []string
	// Scopes the token must all grant.
	Scopes []string
	// Issuers: the token's issuer (iss) must be one of them; empty is
	// any. Client ids and subjects are names within one issuer, so a
	// rule naming them on a route that accepts several issuers says
	// whose.
	Issuers []string
}

// Request is what a decision is about.
type Request struct {
	// Principals of the caller (client and subject of its token, SPIFFE
	// ID of its verified client certificate); empty when unauthenticated.
	Principals []Principal
	Method     string
	// Path is the clean, decoded path (CleanPath).
	Path   string
	Scopes []string
	// Issuer of the caller's token (iss); empty without a token.
	Issuer string
}

// Decision is the outcome of Evaluate.
type Decision struct {
	Allowed bool
	// Rule is the name (or "#index") of the deciding rule; "" for the
	// default deny.
	Rule string
	// Reason is a stable string for metrics: "allowed", "denied_by_rule",
	// "insufficient_scope" or "no_matching_rule".
	Reason string
	// MissingScopes, when Reason is insufficient_scope, are the scopes of
	// an allow rule that matched everything but them.
	MissingScopes []string
}

type compiled struct {
	name       string
	allow      bool
	anyone     bool // no principal condition
	anyAuth    bool // "*"
	principals map[Principal]bool
	spiffePfx  []string        // "spiffe://td/path/" of "spiffe://td/path/*"
	methods    map[string]bool // nil: any
	paths      []pathPattern   // nil: any
	scopes     []string
	issuers    map[string]bool // nil: any
}

// Policy is a compiled, immutable list of rules, safe for concurrent use.
type Policy struct{ rules []compiled }

// New compiles rules, refusing any it cannot read unambiguously.
func New(rules []Rule) (*Policy, error) {
	p := &Policy{}
	var errs []error
	for i, r := range rules {
		c, err := compile(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: rule %s: %v", ErrInvalidRule, ruleName(r, i), err))
			continue
		}
		if c.name == "" {
			c.name = fmt.Sprintf("#%d", i)
		}
		p.rules = append(p.rules, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func ruleName(r Rule, i int) string {
	if r.Name != "" {
		return fmt.Sprintf("%q", r.Name)
	}
	return fmt.Sprintf("#%d", i)
}

// ValidatePrincipal checks a principal pattern: "*", "client:<id>",
// "sub:<subject>", a SPIFFE ID "spiffe://<trust domain>/<path>", or a
// SPIFFE ID prefix "spiffe://<trust domain>/<path>/*".
func ValidatePrincipal(s string) error {
	switch {
	case s == "*":
		return nil
	case strings.HasPrefix(s, "client:") && len(s) > len("client:"):
	case strings.HasPrefix(s, "sub:") && len(s) > len("sub:"):
	case strings.HasPrefix(s, "spiffe://"):
		_, _, err := spiffePattern(s)
		return err
	default:
		return fmt.Errorf("principal %q must be *, client:<client_id>, sub:<subject> or a spiffe:// ID", s)
	}
	return nil
}

func compile(r Rule) (compiled, error) {
	c := compiled{name: r.Name, scopes: r.Scopes}
	switch r.Action {
	case Allow:
		c.allow = true
	case Deny:
	default:
		return c, fmt.Errorf("action %q must be allow or deny", r.Action)
	}
	c.anyone = len(r.Principals) == 0
	for _, s := range r.Principals {
		if err := ValidatePrincipal(s); err != nil {
			return c, err
		}
		if s == "*" {
			c.anyAuth = true
			continue
		}
		if strings.HasPrefix(s, "spiffe://") {
			exact, pfx, _ := spiffePattern(s)
			if pfx != "" {
				c.spiffePfx = append(c.spiffePfx, pfx)
				continue
			}
			s = string(exact)
		}
		if c.principals == nil {
			c.principals = map[Principal]bool{}
		}
		c.principals[Principal(s)] = true
	}
	for _, m := range r.Methods {
		if m == "*" {
			c.methods = nil
			break
		}
		if m == "" || strings.ToUpper(m) != m || strings.ContainsAny(m, " \t/") {
			return c, fmt.Errorf("method %q must be an upper-case HTTP method or *", m)
		}
		if c.methods == nil {
			c.methods = map[string]bool{}
		}
		c.methods[m] = true
	}
	for _, s := range r.Paths {
		pp, err := compilePath(s)
		if err != nil {
			return c, fmt.Errorf("path %q: %v", s, err)
		}
		c.paths = append(c.paths, pp)
	}
	for _, s := range r.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return c, fmt.Errorf("scope %q is not a scope token", s)
		}
	}
	for _, s := range r.Issuers {
		if s == "" {
			return c, errors.New("an issuer must not be empty")
		}
		if c.issuers == nil {
			c.issuers = map[string]bool{}
		}
		c.issuers[s] = true
	}
	return c, nil
}

func (c *compiled) matchesExceptScopes(req *Request) bool {
	if c.issuers != nil && !c.issuers[req.Issuer] {
		return false
	}
	if !c.anyone {
		ok := c.anyAuth && len(req.Principals) > 0
		for _, p := range req.Principals {
			if ok {
				break
			}
			ok = c.principals[p] || c.matchSPIFFEPrefix(p)
		}
		if !ok {
			return false
		}
	}
	if c.methods != nil && !c.methods[req.Method] {
		return false
	}
	if c.paths != nil && !slices.ContainsFunc(c.paths, func(pp pathPattern) bool { return pp.match(req.Path) }) {
		return false
	}
	return true
}

func (c *compiled) matchSPIFFEPrefix(p Principal) bool {
	for _, pfx := range c.spiffePfx {
		if strings.HasPrefix(string(p), pfx) {
			return true
		}
	}
	return false
}

func (c *compiled) hasScopes(req *Request) bool {
	for _, s := range c.scopes {
		if !slices.Contains(req.Scopes, s) {
			return false
		}
	}
	return true
}

// Evaluate decides req: a matching deny rule refuses; otherwise a
// matching allow rule allows; otherwise it is refused.
func (p *Policy) Evaluate(req Request) Decision {
	if p == nil {
		return Decision{Reason: "no_matching_rule"}
	}
	// RFC 9110 §9.1 makes the method case-sensitive, but upstreams that
	// read it in any case (gunicorn before 22 upper-cases it, Express
	// routes on the lower-cased name) would run "delete" as the DELETE a
	// deny rule refuses: rules, upper case, meet the method in any case.
	req.Method = strings.ToUpper(req.Method)
	for i := range p.rules {
		c := &p.rules[i]
		if !c.allow && c.matchesExceptScopes(&req) && c.hasScopes(&req) {
			return Decision{Rule: c.name, Reason: "denied_by_rule"}
		}
	}
	var missing *compiled
	for i := range p.rules {
		c := &p.rules[i]
		if !c.allow || !c.matchesExceptScopes(&req) {
			continue
		}
		if c.hasScopes(&req) {
			return Decision{Allowed: true, Rule: c.name, Reason: "allowed"}
		}
		if missing == nil {
			missing = c
		}
	}
	if missing != nil {
		return Decision{Rule: missing.name, Reason: "insufficient_scope", MissingScopes: missing.scopes}
	}
	return Decision{Reason: "no_matching_rule"}
}

// Len returns the number of rules.
func (p *Policy) Len() int { return len(p.rules) }
