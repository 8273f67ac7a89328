package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/store"
)

// claimFlag collects repeated --claim values as given: a claim value may
// hold spaces and commas ("Liddell, Alice").
type claimFlag []string

func (c *claimFlag) String() string     { return strings.Join(*c, " ") }
func (c *claimFlag) Set(v string) error { *c = append(*c, v); return nil }

// editUserClaims sets (CLAIM=VALUE) or unsets (CLAIM) claims of a stored
// user, checked by config.SetUserClaim as the file's users[].claims are.
// A static user's claims belong to the file: the next start would
// overwrite them, so they are refused here.
func editUserClaims(ctx context.Context, st store.Store, username string, set bool, claims []string, stdout io.Writer) error {
	u, err := st.GetUserByUsername(ctx, username)
	if err != nil {
		return err
	}
	if u.Static {
		return fmt.Errorf("user %s is declared in the configuration file: edit its users[].claims there", username)
	}
	for _, c := range claims {
		if set {
			name, value, ok := strings.Cut(c, "=")
			if !ok {
				return fmt.Errorf("--claim %q: want CLAIM=VALUE", c)
			}
			err = config.SetUserClaim(&u.Claims, name, value)
		} else {
			err = config.UnsetUserClaim(&u.Claims, c)
		}
		if err != nil {
			return err
		}
	}
	u.UpdatedAt = now() // also the updated_at claim (OIDC Core §5.1)
	if err := st.UpsertUser(ctx, u); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "claims of %s updated\n", username)
	return nil
}

// showUser prints a user and its claims as JSON; never its password hash.
func showUser(ctx context.Context, st store.Store, username string, stdout io.Writer) error {
	u, err := st.GetUserByUsername(ctx, username)
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(struct {
		Username  string           `json:"username"`
		Subject   string           `json:"subject"`
		Static    bool             `json:"static"`
		UpdatedAt string           `json:"updated_at"`
		Claims    store.UserClaims `json:"claims"`
	}{u.Username, u.Subject, u.Static, u.UpdatedAt.UTC().Format(time.RFC3339), u.Claims}, "", "  ")
	fmt.Fprintln(stdout, string(out))
	return nil
}
