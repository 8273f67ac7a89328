package authz

import (
	"slices"
	"testing"

	"github.com/wardauth/ward/store"
)

// The roles claim (Ward's own, the admin console's role) is never
// released to a client: no scope covers it, and a claims request naming
// it is dropped, so a client cannot learn — or have a user carry — an
// administrator's role.
func TestRolesNeverReleased(t *testing.T) {
	all := "openid profile email address phone"
	req := `{"userinfo":{"roles":{"essential":true}},"id_token":{"roles":null}}`
	for _, target := range []string{claimsForUserInfo, claimsForIDToken} {
		if names := requestedClaims(all, req, target); slices.Contains(names, "roles") {
			t.Errorf("%s: roles requested: %v", target, names)
		}
	}
	u := &store.User{Claims: store.UserClaims{Roles: []string{"admin"}}}
	if _, ok := userClaimValues(u)["roles"]; !ok {
		t.Fatal("the test needs roles among the stored claims")
	}
}
