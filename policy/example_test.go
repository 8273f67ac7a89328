package policy_test

import (
	"fmt"

	"github.com/wardauth/ward/policy"
)

func Example() {
	p, err := policy.New([]policy.Rule{
		{Name: "no-admin", Action: policy.Deny, Paths: []string{"/admin/*"}},
		{Name: "read", Action: policy.Allow, Principals: []string{"*"}, Methods: []string{"GET"}, Paths: []string{"/orders/*"}, Scopes: []string{"orders:read"}},
	})
	if err != nil {
		panic(err)
	}
	path, err := policy.CleanPath("/orders/%31")
	if err != nil {
		panic(err)
	}
	d := p.Evaluate(policy.Request{
		Principals: []policy.Principal{policy.Client("shop"), policy.Subject("alice")},
		Method:     "GET", Path: path, Scopes: []string{"orders:read"},
	})
	fmt.Println(path, d.Allowed, d.Rule)
	_, err = policy.CleanPath("/orders/%2e%2e/admin")
	fmt.Println(err)
	// Output:
	// /orders/1 true read
	// policy: ambiguous request path: dot segment
}
