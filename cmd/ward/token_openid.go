package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/oauth"
)

// openIDFlags are `ward token`'s OpenID Connect flags: sign in with
// openid, print the verified ID token's claims, and call UserInfo.
type openIDFlags struct {
	on       bool
	userinfo bool
}

func registerOpenID(fs *flag.FlagSet) *openIDFlags {
	o := &openIDFlags{}
	fs.BoolVar(&o.on, "openid", false, "sign in with OpenID Connect (implies --authorization-code, adds the scope openid), verify the ID token and print its claims as JSON")
	fs.BoolVar(&o.userinfo, "userinfo", false, "with --openid: also call the UserInfo endpoint with the DPoP-bound token and print its claims")
	return o
}

// prepare makes the request an OpenID Connect one: the browser sign-in
// (Ward issues ID tokens on the code grant only) with openid added to the
// scopes (the dev client's, with --dev).
func (o *openIDFlags) prepare(f *tokenFlags, stderr io.Writer) error {
	if o.userinfo && !o.on {
		fmt.Fprintln(stderr, "ward: --userinfo needs --openid")
		return errUsage
	}
	if !o.on {
		return nil
	}
	f.authCode = true
	if err := f.complete(stderr); err != nil {
		return err
	}
	if !strings.Contains(" "+f.scope+" ", " "+oauth.ScopeOpenID+" ") {
		f.scope = strings.TrimSpace(oauth.ScopeOpenID + " " + f.scope)
	}
	return nil
}

// print writes the verified ID token's claims (and UserInfo's) as JSON.
// client.AuthorizeLoopback has verified the ID token (signature from the
// issuer's JWKS, iss, aud, azp, exp, iat, nonce, at_hash).
func (o *openIDFlags) print(ctx context.Context, c *client.Client, tok *oauth2.Token, stdout io.Writer) error {
	idt, ok := client.IDTokenOf(tok)
	if !ok {
		return errors.New("ward: the server returned no verified ID token")
	}
	out := map[string]any{"id_token_claims": idt.Claims}
	if o.userinfo {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		ui, err := c.UserInfo(ctx, tok, idt)
		if err != nil {
			return fmt.Errorf("ward: userinfo: %w", err)
		}
		out["userinfo"] = ui
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
