package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardauth/ward/policy"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"/", "/"},
		{"/api/orders", "/api/orders"},
		{"/api/orders/", "/api/orders/"},
		{"/api/%41bc", "/api/Abc"},             // unreserved decoded
		{"/files/a%20b.txt", "/files/a b.txt"}, // space is data
		{"/files/report.v1.json", "/files/report.v1.json"},
		{"/a/.hidden", "/a/.hidden"}, // leading dot is a name, not a dot segment
		{"/Admin", "/Admin"},         // case is kept; matching is case-sensitive
		// Dot segments, plain and encoded.
		{"/api/../admin", ""},
		{"/api/./admin", ""},
		{"/..", ""},
		{"/api/%2e%2e/admin", ""},
		{"/api/%2E%2E/admin", ""},
		{"/api/.%2e/admin", ""},
		{"/api/%2e/admin", ""},
		// Encoded slash and backslash.
		{"/api%2fadmin", ""},
		{"/api%2Fadmin", ""},
		{"/api%5cadmin", ""},
		{"/api\\admin", ""},
		// Double encoding.
		{"/api/%252e%252e/admin", ""},
		{"/api%252fadmin", ""},
		{"/%25", ""},
		// Trailing dots (stripped by some servers: /admin. is /admin).
		{"/admin.", ""},
		{"/admin..", ""},
		{"/admin%2e", ""},
		{"/admin./x", ""},
		// Empty segments.
		{"//admin", ""},
		{"/api//admin", ""},
		// Path parameters (Tomcat reads /admin;x as /admin).
		{"/admin;jsessionid=1", ""},
		{"/admin%3bx", ""},
		// Control characters and bad encodings.
		{"/a%00b", ""},
		{"/a%0d%0aSet-Cookie:x", ""},
		{"/a%zz", ""},
		{"/a%4", ""},
		{"", ""},
		{"api", ""},
		{"*", ""},
	}
	for _, tt := range tests {
		got, err := policy.CleanPath(tt.in)
		if tt.want == "" {
			if err == nil || !errors.Is(err, policy.ErrAmbiguousPath) {
				t.Errorf("CleanPath(%q) = %q, %v; want ErrAmbiguousPath", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func mustPolicy(t *testing.T, rules ...policy.Rule) *policy.Policy {
	t.Helper()
	p, err := policy.New(rules)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	p := mustPolicy(t,
		policy.Rule{Name: "no-admin", Action: policy.Deny, Paths: []string{"/admin/*"}},
		policy.Rule{Name: "no-bad-client", Action: policy.Deny, Principals: []string{"client:evil"}},
		policy.Rule{Name: "read", Action: policy.Allow, Principals: []string{"*"}, Methods: []string{"GET", "HEAD"}, Paths: []string{"/orders/*", "*.json"}, Scopes: []string{"orders:read"}},
		policy.Rule{Name: "write", Action: policy.Allow, Principals: []string{"client:shop", "sub:alice"}, Methods: []string{"POST"}, Paths: []string{"/orders"}, Scopes: []string{"orders:write"}},
		policy.Rule{Name: "mesh", Action: policy.Allow, Principals: []string{"spiffe://example.org/ns/prod/sa/billing"}, Paths: []string{"/internal/*"}},
		policy.Rule{Name: "health", Action: policy.Allow, Methods: []string{"GET"}, Paths: []string{"/health"}},
	)
	shop := []policy.Principal{policy.Client("shop"), policy.Subject("bob")}
	tests := []struct {
		name   string
		req    policy.Request
		allow  bool
		rule   string
		reason string
	}{
		{"read orders", policy.Request{Principals: shop, Method: "GET", Path: "/orders/1", Scopes: []string{"orders:read"}}, true, "read", "allowed"},
		{"prefix includes the bare prefix", policy.Request{Principals: shop, Method: "GET", Path: "/orders", Scopes: []string{"orders:read"}}, true, "read", "allowed"},
		{"prefix is segment-wise", policy.Request{Principals: shop, Method: "GET", Path: "/ordersX", Scopes: []string{"orders:read"}}, false, "", "no_matching_rule"},
		{"suffix", policy.Request{Principals: shop, Method: "GET", Path: "/x/y.json", Scopes: []string{"orders:read"}}, true, "read", "allowed"},
		{"read without scope", policy.Request{Principals: shop, Method: "GET", Path: "/orders/1"}, false, "read", "insufficient_scope"},
		{"unauthenticated read", policy.Request{Method: "GET", Path: "/orders/1", Scopes: []string{"orders:read"}}, false, "", "no_matching_rule"},
		{"write by client", policy.Request{Principals: shop, Method: "POST", Path: "/orders", Scopes: []string{"orders:write"}}, true, "write", "allowed"},
		{"write by subject", policy.Request{Principals: []policy.Principal{policy.Client("other"), policy.Subject("alice")}, Method: "POST", Path: "/orders", Scopes: []string{"orders:write"}}, true, "write", "allowed"},
		{"write by someone else", policy.Request{Principals: []policy.Principal{policy.Client("other")}, Method: "POST", Path: "/orders", Scopes: []string{"orders:write"}}, false, "", "no_matching_rule"},
		{"wrong method", policy.Request{Principals: shop, Method: "DELETE", Path: "/orders/1", Scopes: []string{"orders:read", "orders:write"}}, false, "", "no_matching_rule"},
		{"deny wins over allow", policy.Request{Principals: []policy.Principal{policy.Client("evil")}, Method: "GET", Path: "/orders/1", Scopes: []string{"orders:read"}}, false, "no-bad-client", "denied_by_rule"},
		{"deny admin", policy.Request{Principals: shop, Method: "GET", Path: "/admin", Scopes: []string{"orders:read"}}, false, "no-admin", "denied_by_rule"},
		{"deny admin subtree json", policy.Request{Principals: shop, Method: "GET", Path: "/admin/users.json", Scopes: []string{"orders:read"}}, false, "no-admin", "denied_by_rule"},
		{"case: /Admin is another path, not allowed by default", policy.Request{Principals: shop, Method: "GET", Path: "/Admin/x"}, false, "", "no_matching_rule"},
		{"spiffe", policy.Request{Principals: []policy.Principal{"spiffe://example.org/ns/prod/sa/billing"}, Method: "PUT", Path: "/internal/x"}, true, "mesh", "allowed"},
		{"public health", policy.Request{Method: "GET", Path: "/health"}, true, "health", "allowed"},
		{"default deny", policy.Request{Principals: shop, Method: "GET", Path: "/else"}, false, "", "no_matching_rule"},
	}
	for _, tt := range tests {
		d := p.Evaluate(tt.req)
		if d.Allowed != tt.allow || d.Rule != tt.rule || d.Reason != tt.reason {
			t.Errorf("%s: got %+v, want allowed=%v rule=%q reason=%q", tt.name, d, tt.allow, tt.rule, tt.reason)
		}
	}
	if d := p.Evaluate(policy.Request{Principals: shop, Method: "GET", Path: "/orders/1"}); strings.Join(d.MissingScopes, " ") != "orders:read" {
		t.Errorf("missing scopes %v", d.MissingScopes)
	}
	var empty *policy.Policy
	if empty.Evaluate(policy.Request{Method: "GET", Path: "/"}).Allowed {
		t.Error("nil policy allowed")
	}
	if mustPolicy(t).Evaluate(policy.Request{Method: "GET", Path: "/"}).Allowed {
		t.Error("empty policy allowed")
	}
}

// The path tricks end to end: a request path goes through CleanPath
// before Evaluate; whatever the encoding, /admin stays denied.
func TestPathTricksAgainstDeny(t *testing.T) {
	p := mustPolicy(t,
		policy.Rule{Action: policy.Deny, Paths: []string{"/admin/*"}},
		policy.Rule{Action: policy.Allow, Paths: []string{"*"}},
	)
	for _, raw := range []string{
		"/admin", "/admin/", "/admin/x", "/public/../admin", "/public/%2e%2e/admin", "/%61dmin/x",
		"/public%2f..%2fadmin", "/public/%252e%252e/admin", "/admin.", "/admin;x", "//admin", "/public/..%5cadmin",
	} {
		clean, err := policy.CleanPath(raw)
		if err != nil {
			continue // refused: fine
		}
		if p.Evaluate(policy.Request{Method: "GET", Path: clean}).Allowed {
			t.Errorf("%q (clean %q) reached /admin", raw, clean)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	bad := []policy.Rule{
		{Action: "maybe"},
		{Action: policy.Allow, Principals: []string{"alice"}},
		{Action: policy.Allow, Principals: []string{"client:"}},
		{Action: policy.Allow, Methods: []string{"get"}},
		{Action: policy.Allow, Paths: []string{"admin"}},
		{Action: policy.Allow, Paths: []string{"/a/../b"}},
		{Action: policy.Allow, Paths: []string{"/a*"}},
		{Action: policy.Allow, Paths: []string{"/a/*/b"}},
		{Action: policy.Allow, Paths: []string{"*/x"}},
		{Action: policy.Allow, Paths: []string{"/a%2fb"}},
		{Action: policy.Allow, Scopes: []string{"a b"}},
	}
	for _, r := range bad {
		if _, err := policy.New([]policy.Rule{r}); !errors.Is(err, policy.ErrInvalidRule) {
			t.Errorf("New(%+v) = %v, want ErrInvalidRule", r, err)
		}
	}
	_, err := policy.New([]policy.Rule{{Name: "r1", Action: policy.Allow, Principals: []string{"bob"}}})
	if want := `policy: invalid rule: rule "r1": principal "bob" must be *, client:<client_id>, sub:<subject> or a spiffe:// ID`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a/../b", "/%2e%2e", "/a%2fb", "/a;b", "//", "/a.", "/%252e", "/a/b/"} {
		f.Add(s)
	}
	p := mustPolicyF(f)
	f.Fuzz(func(t *testing.T, raw string) {
		clean, err := policy.CleanPath(raw)
		if err != nil {
			if !errors.Is(err, policy.ErrAmbiguousPath) {
				t.Fatalf("error %v does not wrap ErrAmbiguousPath", err)
			}
			return
		}
		// A clean path is a fixed point of escaping and cleaning again.
		if !strings.HasPrefix(clean, "/") || strings.Contains(clean, "//") || strings.Contains(clean, "\\") {
			t.Fatalf("%q → %q", raw, clean)
		}
		for _, seg := range strings.Split(clean[1:], "/") {
			if seg == "." || seg == ".." || strings.HasSuffix(seg, ".") {
				t.Fatalf("%q → %q has a dot segment", raw, clean)
			}
		}
		if strings.ContainsAny(clean, "%;") {
			t.Fatalf("%q → %q keeps %% or ;", raw, clean)
		}
		if again, err := policy.CleanPath(clean); err != nil && !strings.ContainsAny(clean, "%") || err == nil && again != clean {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, clean, again, err)
		}
		// Nothing under /admin is reachable.
		if (clean == "/admin" || strings.HasPrefix(clean, "/admin/")) && p.Evaluate(policy.Request{Method: "GET", Path: clean}).Allowed {
			t.Fatalf("%q reached /admin", raw)
		}
	})
}

func mustPolicyF(f *testing.F) *policy.Policy {
	p, err := policy.New([]policy.Rule{
		{Action: policy.Deny, Paths: []string{"/admin/*"}},
		{Action: policy.Allow, Paths: []string{"*"}},
	})
	if err != nil {
		f.Fatal(err)
	}
	return p
}

// TestRuleIssuers: client ids and subjects are names within one issuer;
// a rule with issuers matches only tokens of those, for allow and deny.
func TestRuleIssuers(t *testing.T) {
	p, err := policy.New([]policy.Rule{
		{Name: "no-kc-admin", Action: policy.Deny, Principals: []string{"sub:admin"}, Issuers: []string{"https://kc"}, Paths: []string{"/admin/*"}},
		{Name: "shop", Action: policy.Allow, Principals: []string{"client:shop"}, Issuers: []string{"https://ward"}},
		{Name: "admin", Action: policy.Allow, Principals: []string{"sub:admin"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		who, iss, path string
		want           bool
	}{
		{"client:shop", "https://ward", "/x", true},
		{"client:shop", "https://kc", "/x", false}, // another issuer's client named shop
		{"client:shop", "", "/x", false},
		{"sub:admin", "https://ward", "/admin/x", true},
		{"sub:admin", "https://kc", "/admin/x", false},
		{"sub:admin", "https://kc", "/y", true},
	} {
		d := p.Evaluate(policy.Request{Principals: []policy.Principal{policy.Principal(tt.who)}, Issuer: tt.iss, Method: "GET", Path: tt.path})
		if d.Allowed != tt.want {
			t.Errorf("%s of %q on %s: %+v, want allowed=%v", tt.who, tt.iss, tt.path, d, tt.want)
		}
	}
	if _, err := policy.New([]policy.Rule{{Action: policy.Allow, Issuers: []string{""}}}); err == nil {
		t.Error("empty issuer accepted")
	}
}

// TestEvaluateMethodCase: a deny rule for DELETE refuses "delete" and
// "Delete", which some upstreams run as DELETE; an allow rule for GET
// allows "get".
func TestEvaluateMethodCase(t *testing.T) {
	p, err := policy.New([]policy.Rule{
		{Action: policy.Deny, Methods: []string{"DELETE"}},
		{Action: policy.Allow, Methods: []string{"GET"}, Paths: []string{"/r/*"}},
		{Action: policy.Allow, Paths: []string{"/any/*"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		allowed      bool
	}{{"delete", "/any/x", false}, {"Delete", "/any/x", false}, {"get", "/r/x", true}, {"post", "/r/x", false}} {
		if d := p.Evaluate(policy.Request{Method: c.method, Path: c.path}); d.Allowed != c.allowed {
			t.Errorf("%s %s: allowed %v, want %v (%s)", c.method, c.path, d.Allowed, c.allowed, d.Reason)
		}
	}
}
