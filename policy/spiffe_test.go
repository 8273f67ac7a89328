package policy_test

import (
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/wardauth/ward/policy"
)

// The example of issue 5: only spiffe://prod/ns/payments/sa/order-service
// may POST /api/v1/charges.
func TestSPIFFEPrincipals(t *testing.T) {
	p, err := policy.New([]policy.Rule{
		{Name: "charges", Action: policy.Allow, Principals: []string{"spiffe://prod/ns/payments/sa/order-service"}, Methods: []string{"POST"}, Paths: []string{"/api/v1/charges"}},
		{Name: "reads", Action: policy.Allow, Principals: []string{"spiffe://prod/ns/payments/*"}, Methods: []string{"GET"}, Paths: []string{"/api/v1/*"}},
		{Name: "audit", Action: policy.Allow, Principals: []string{"spiffe://audit/*"}, Methods: []string{"GET"}, Paths: []string{"/api/v1/ledger"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := func(s string) policy.Principal { return policy.SPIFFE(spiffeid.RequireFromString(s)) }
	for _, tc := range []struct {
		principal    policy.Principal
		method, path string
		allowed      bool
		rule         string
	}{
		{id("spiffe://prod/ns/payments/sa/order-service"), "POST", "/api/v1/charges", true, "charges"},
		{id("spiffe://prod/ns/payments/sa/refund-service"), "POST", "/api/v1/charges", false, ""},
		{id("spiffe://staging/ns/payments/sa/order-service"), "POST", "/api/v1/charges", false, ""},
		{id("spiffe://prod/ns/payments/sa/order-service/extra"), "POST", "/api/v1/charges", false, ""},
		{policy.Client("spiffe://prod/ns/payments/sa/order-service"), "POST", "/api/v1/charges", false, ""},
		{policy.Principal("spiffe://prod/ns/payments/sa/order-service"), "GET", "/api/v1/charges", true, "reads"},
		{id("spiffe://prod/ns/payments/sa/refund-service"), "GET", "/api/v1/charges", true, "reads"},
		{id("spiffe://prod/ns/payments"), "GET", "/api/v1/charges", false, ""},
		{id("spiffe://prod/ns/payments-eu/sa/x"), "GET", "/api/v1/charges", false, ""},
		{id("spiffe://audit/anything/at/all"), "GET", "/api/v1/ledger", true, "audit"},
		{id("spiffe://auditx/a"), "GET", "/api/v1/ledger", false, ""},
	} {
		d := p.Evaluate(policy.Request{Principals: []policy.Principal{tc.principal}, Method: tc.method, Path: tc.path})
		if d.Allowed != tc.allowed || d.Rule != tc.rule {
			t.Errorf("%s %s %s: got %+v, want allowed=%v rule=%q", tc.principal, tc.method, tc.path, d, tc.allowed, tc.rule)
		}
	}
}

func TestSPIFFEPrincipalValidation(t *testing.T) {
	for _, tc := range []struct{ principal, err string }{
		{"spiffe://prod/ns/payments/sa/order-service", ""},
		{"spiffe://prod/ns/payments/*", ""},
		{"spiffe://prod/*", ""},
		{"spiffe://prod", `principal "spiffe://prod" names a trust domain, not a workload: write spiffe://prod/* for every workload in it`},
		{"spiffe://Prod/ns/x", `principal "spiffe://Prod/ns/x" is not a SPIFFE ID: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`},
		{"spiffe://prod/ns/../x", `principal "spiffe://prod/ns/../x" is not a SPIFFE ID: path cannot contain dot segments`},
		{"spiffe://prod/ns/x?y", `principal "spiffe://prod/ns/x?y" is not a SPIFFE ID: path segment characters are limited to letters, numbers, dots, dashes, and underscores`},
		{"spiffe://prod/ns/*/x", `principal "spiffe://prod/ns/*/x" is not a SPIFFE ID: path segment characters are limited to letters, numbers, dots, dashes, and underscores`},
		{"spiffe://prod/ns//*", `principal "spiffe://prod/ns//*": write spiffe://<trust domain>/<path>/*`},
		{"spiffe://prod:8443/x", `principal "spiffe://prod:8443/x" is not a SPIFFE ID: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`},
	} {
		err := policy.ValidatePrincipal(tc.principal)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.err {
			t.Errorf("%s:\n got %q\nwant %q", tc.principal, got, tc.err)
		}
		_, nerr := policy.New([]policy.Rule{{Action: policy.Allow, Principals: []string{tc.principal}}})
		if (nerr != nil) != (tc.err != "") || nerr != nil && !strings.Contains(nerr.Error(), tc.err) {
			t.Errorf("New with %s: %v", tc.principal, nerr)
		}
	}
}
