package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

func init() {
	register(command{name: "client", summary: "manage clients in the configured store: create, list, show, delete", run: runClient})
	register(command{name: "user", summary: "manage users in the configured store: create, set-password, delete, list, show, set/unset claims", run: runUser})
	register(command{name: "keys", summary: "signing keys: list, rotate", run: runKeys})
}

// listFlag collects a repeatable flag; each value may hold several items
// separated by spaces or commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })...)
	return nil
}

// withStore loads the configuration, opens the store and calls f. A
// configuration file is loaded store-only: the runtime secrets these
// commands do not use (the KEK, the nonce secret, client and user
// secrets) need not be at hand.
func withStore(ctx context.Context, cf *configFlags, f func(*config.Config, store.Store) error) error {
	var cfg *config.Config
	var err error
	if cf.path != "" && !cf.dev {
		cfg, err = config.LoadStoreOnly(cf.path)
	} else {
		cfg, err = cf.load()
	}
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, slog.Default())
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer st.Close()
	return f(cfg, st)
}

func subcommand(args []string, stderr io.Writer, usage string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, usage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return "", nil, flag.ErrHelp
		}
		return "", nil, errUsage
	}
	return args[0], args[1:], nil
}

const clientUsage = `Usage: ward client <create|list|show|delete> [flags]
  create --id ID [--name N] [--auth-method client_secret_basic|client_secret_post|private_key_jwt|
                                             tls_client_auth|self_signed_tls_client_auth|none]
         [--redirect-uri URI]... [--grant-type T]... [--scope S]... [--audience A]...
         [--sender-constraint dpop|dpop_or_mtls|mtls|bearer] [--require-par] [--allow-remembered-consent]
         [--access-token-ttl D] [--jwks-file F] [--logo-uri URL] [--client-uri URL]
         [--subject-type public|pairwise] [--sector-identifier-uri URL] [--userinfo-signed-response-alg ES256|RS256]
         [--profile fapi2-security|fapi2-message-signing]
  list
  show ID
  delete ID
Every subcommand takes --config FILE or --dev [--data DIR] to find the store.`

func runClient(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, stderr, clientUsage)
	if err != nil {
		return err
	}
	var cf configFlags
	fs := newFlagSet("client "+sub, "client "+sub+" [flags]", stderr)
	cf.register(fs)
	var cl config.Client
	var redirects, grants, scopes, auds listFlag
	var authMethod, profile string
	if sub == "create" {
		fs.StringVar(&profile, "profile", "", "FAPI 2.0 profile of the client: fapi2-security or fapi2-message-signing (docs/FAPI2.md)")
		fs.StringVar(&cl.ID, "id", "", "client_id (required)")
		fs.StringVar(&cl.Name, "name", "", "display name")
		fs.StringVar(&authMethod, "auth-method", string(oauth.AuthSecretBasic), "token endpoint authentication method")
		fs.Var(&redirects, "redirect-uri", "redirect `URI` (repeatable)")
		fs.Var(&grants, "grant-type", "`grant` type (repeatable): authorization_code, refresh_token, client_credentials")
		fs.Var(&scopes, "scope", "allowed `scope` (repeatable)")
		fs.Var(&auds, "audience", "allowed audience / resource `URI` (repeatable; the first is the default)")
		fs.StringVar(&cl.SenderConstraint, "sender-constraint", store.ConstraintDPoP, "dpop, dpop_or_mtls, mtls, or bearer (explicit opt-out)")
		fs.BoolVar(&cl.RequirePAR, "require-par", false, "require pushed authorization requests")
		fs.BoolVar(&cl.RequireSignedRequestObject, "require-signed-request-object", false,
			"require signed request objects (RFC 9101), verified with the keys of --jwks-file")
		fs.BoolVar(&cl.AllowRememberedConsent, "allow-remembered-consent", false,
			"public client with a loopback or private-use redirect URI: skip the consent page when consent was given before (any local app could then get its tokens; see docs/CONFIG.md)")
		fs.DurationVar(&cl.AccessTokenTTL, "access-token-ttl", 0, "access-token lifetime (default: the server's)")
		fs.StringVar(&cl.LogoURI, "logo-uri", "", "https URL of the client's logo, shown on the login and consent pages")
		fs.StringVar(&cl.ClientURI, "client-uri", "", "https URL of the client's home page, linked from its name on those pages")
		fs.StringVar(&cl.JWKSFile, "jwks-file", "", "file holding the client's JWKS: the public keys of private_key_jwt or of self_signed_tls_client_auth (mTLS, RFC 8705 §2.2), or for tls_client_auth {\"keys\": [], \"tls_client_auth_san_uri\": ...} (RFC 8705 §2.1.2; docs/MTLS.md)")
		fs.StringVar(&cl.SubjectType, "subject-type", "", "OpenID Connect subject type: public (default) or pairwise (needs oidc.pairwise_salt_file)")
		fs.StringVar(&cl.SectorIdentifierURI, "sector-identifier-uri", "",
			"pairwise sector: https URL of a JSON array listing every redirect URI (fetched and checked now)")
		fs.StringVar(&cl.UserinfoSignedResponseAlg, "userinfo-signed-response-alg", "", "sign UserInfo responses: ES256 or RS256 (default: JSON)")
		fs.StringVar(&cl.AuthorizationSignedResponseAlg, "authorization-signed-response-alg", "", "algorithm of JARM authorization responses: ES256 or RS256 (default: the server's)")
		fs.StringVar(&cl.IntrospectionSignedResponseAlg, "introspection-signed-response-alg", "", "algorithm of JWT introspection responses (RFC 9701): ES256 or RS256 (default: the server's)")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	cl.AuthMethod, cl.Profile = oauth.AuthMethod(authMethod), fapi.Profile(profile)
	cl.RedirectURIs, cl.Scopes, cl.Audiences = redirects, scopes, auds
	for _, g := range grants {
		cl.GrantTypes = append(cl.GrantTypes, oauth.GrantType(g))
	}
	return withStore(ctx, &cf, func(cfg *config.Config, st store.Store) error {
		switch sub {
		case "create":
			if err := createClient(ctx, cfg, st, cl, stdout); err != nil {
				return err
			}
			recordChange(ctx, cfg, st, stderr, secevent.Event{Type: secevent.ClientChanged, ClientID: cl.ID, Reason: "created"})
			return nil
		case "list":
			return listClients(ctx, st, stdout)
		case "show", "delete":
			if fs.NArg() != 1 {
				fmt.Fprintln(stderr, clientUsage)
				return errUsage
			}
			if sub == "delete" {
				if err := deleteClient(ctx, st, fs.Arg(0), stdout); err != nil {
					return err
				}
				recordChange(ctx, cfg, st, stderr, secevent.Event{Type: secevent.ClientChanged, ClientID: fs.Arg(0), Reason: "deleted"})
				return nil
			}
			return showClient(ctx, st, fs.Arg(0), stdout)
		}
		fmt.Fprintln(stderr, clientUsage)
		return errUsage
	})
}

// createClient validates cl as the configuration would, stores it and
// prints its secret once. A pairwise client needs the configuration's
// salt, and its sector identifier document is fetched and checked now
// (OIDC Core §8.1), failing closed.
func createClient(ctx context.Context, cfg *config.Config, st store.Store, cl config.Client, stdout io.Writer) error {
	if len(cl.GrantTypes) == 0 {
		cl.GrantTypes = []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	}
	if err := config.ValidateClientUnder(cfg.AuthorizationServer.Profile, cl, true); err != nil {
		return err
	}
	if cl.SubjectType == store.SubjectPairwise && !cfg.OIDC.HasPairwiseSalt() {
		return fmt.Errorf("client %s: subject_type pairwise needs oidc.pairwise_salt_file (or %s) in the configuration", cl.ID, config.EnvPairwiseSalt)
	}
	sc := &store.Client{
		ID: cl.ID, Name: cl.Name, AuthMethod: cl.AuthMethod, RedirectURIs: cl.RedirectURIs,
		GrantTypes: cl.GrantTypes, Scopes: cl.Scopes, Audiences: cl.Audiences,
		SenderConstraint: cl.SenderConstraint, RequirePAR: cl.RequirePAR, AccessTokenTTL: cl.AccessTokenTTL,
		RequireSignedRequestObject: cl.RequireSignedRequestObject,
		Profile:                    string(cl.Profile),
		AllowRememberedConsent:     cl.AllowRememberedConsent, LogoURI: cl.LogoURI, ClientURI: cl.ClientURI,
		SubjectType: cl.SubjectType, SectorIdentifierURI: cl.SectorIdentifierURI,
		UserinfoSignedResponseAlg:      cl.UserinfoSignedResponseAlg,
		AuthorizationSignedResponseAlg: cl.AuthorizationSignedResponseAlg,
		IntrospectionSignedResponseAlg: cl.IntrospectionSignedResponseAlg,
	}
	if err := authz.CheckSectorIdentifier(ctx, nil, sc); err != nil {
		return err
	}
	if cl.JWKSFile != "" {
		b, err := os.ReadFile(cl.JWKSFile)
		if err != nil {
			return err
		}
		sc.JWKS = b
	}
	secret, err := authz.CreateClient(ctx, st, sc, now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created client %s\n", sc.ID)
	if secret != "" {
		fmt.Fprintf(stdout, "client_secret: %s\n(shown once: Ward keeps only its SHA-256 hash)\n", secret)
	}
	return nil
}

func listClients(ctx context.Context, st store.Store, stdout io.Writer) error {
	cs, err := st.ListClients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tAUTH\tCONSTRAINT\tGRANTS\tSTATIC")
	for _, c := range cs {
		grants := make([]string, len(c.GrantTypes))
		for i, g := range c.GrantTypes {
			grants[i] = string(g)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", c.ID, c.AuthMethod, c.SenderConstraint, strings.Join(grants, ","), c.Static)
	}
	return tw.Flush()
}

func deleteClient(ctx context.Context, st store.Store, id string, stdout io.Writer) error {
	if err := st.DeleteClient(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted client %s\n", id)
	return nil
}

// showClient prints the stored client as JSON, without its secret hash.
func showClient(ctx context.Context, st store.Store, id string, stdout io.Writer) error {
	c, err := st.GetClient(ctx, id)
	if err != nil {
		return err
	}
	c.SecretHash = nil // nothing secret-derived is printed
	out, _ := json.MarshalIndent(c, "", "  ")
	fmt.Fprintln(stdout, string(out))
	return nil
}

const userUsage = `Usage: ward user <create|set-password|delete|logout|list|show|set|unset> [flags]
  create --username NAME [--subject SUB] [--password-stdin]
  set-password --username NAME [--password-stdin]
  delete --username NAME   (ends the user's sessions first, as logout)
  logout --username NAME   end every login session of the user: back-channel
                           logout queued (a running ward serve delivers it),
                           grants of clients with logout_revokes_grants revoked
  list
  show NAME                          the user and its OpenID Connect claims, as JSON
  set NAME --claim CLAIM=VALUE...    e.g. --claim name="Alice Liddell" --claim email_verified=true
                                     --claim address.locality=Oxford
  unset NAME --claim CLAIM...
Without --password-stdin a random password is generated and printed once.
NAME may also be given as --username NAME. Claims of users declared in the
configuration file are edited there (users[].claims).
Every subcommand takes --config FILE or --dev [--data DIR] to find the store.`

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, stderr, userUsage)
	if err != nil {
		return err
	}
	var cf configFlags
	fs := newFlagSet("user "+sub, "user "+sub+" [flags]", stderr)
	cf.register(fs)
	username := fs.String("username", "", "login name")
	subject := fs.String("subject", "", "stable subject identifier (default: generated)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	var claims claimFlag
	fs.Var(&claims, "claim", "a `claim`: set takes NAME=VALUE, unset takes NAME (repeatable; OIDC Core §5.1 names, address.MEMBER, roles=a,b)")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if *username == "" && fs.NArg() == 1 {
		*username = fs.Arg(0)
	}
	return withStore(ctx, &cf, func(cfg *config.Config, st store.Store) (err error) {
		if sub != "list" && *username == "" {
			fmt.Fprintln(stderr, userUsage)
			return errUsage
		}
		// Every subcommand but show and list changes the user: an event.
		if sub != "show" && sub != "list" {
			defer userChanged(ctx, cfg, st, stderr, sub, *username)(&err)
		}
		switch sub {
		case "create", "set-password":
			return userPassword(ctx, st, sub, *username, *subject, *fromStdin, stdout)
		case "delete":
			return deleteUser(ctx, st, *username, stdout)
		case "show":
			return showUser(ctx, st, *username, stdout)
		case "set", "unset":
			if len(claims) == 0 {
				fmt.Fprintln(stderr, userUsage)
				return errUsage
			}
			return editUserClaims(ctx, st, *username, sub == "set", claims, stdout)
		case "logout":
			return logoutUser(ctx, st, *username, stdout)
		case "list":
			return listUsers(ctx, st, stdout)
		}
		fmt.Fprintln(stderr, userUsage)
		return errUsage
	})
}

// userChanged records a user change as a security event once the command
// has succeeded: call it before the change, and the function it returns
// with the command's error after.
func userChanged(ctx context.Context, cfg *config.Config, st store.Store, stderr io.Writer, sub, username string) func(*error) {
	sb := subjectOf(ctx, st, username) // before a delete
	return func(err *error) {
		if *err != nil {
			return
		}
		if sb == "" {
			sb = subjectOf(ctx, st, username) // after a create
		}
		recordChange(ctx, cfg, st, stderr, secevent.Event{Type: secevent.UserChanged, Subject: sb, Reason: sub})
	}
}

// userPassword runs user create and user set-password: the password from
// standard input, or generated and shown once.
func userPassword(ctx context.Context, st store.Store, sub, username, subject string, fromStdin bool, stdout io.Writer) error {
	pw, generated, err := readUserPassword(fromStdin)
	if err != nil {
		return err
	}
	if sub == "create" {
		err = createUser(ctx, st, username, subject, pw, stdout)
	} else {
		err = setUserPassword(ctx, st, username, pw, stdout)
	}
	if err == nil && generated {
		fmt.Fprintf(stdout, "password: %s\n(shown once)\n", pw)
	}
	return err
}

// readUserPassword reads the password from the first line of standard
// input (at least 8 characters), or generates one.
func readUserPassword(fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		return randomString(18), true, nil
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, err
	}
	pw = strings.TrimRight(line, "\r\n")
	if len(pw) < 8 {
		return "", false, fmt.Errorf("the password must have at least 8 characters")
	}
	return pw, false, nil
}

// createUser stores a user with pw's hash; without a subject one is
// generated.
func createUser(ctx context.Context, st store.Store, username, subject, pw string, stdout io.Writer) error {
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	if subject == "" {
		subject = "user-" + randomString(12)
	}
	t := now()
	if err := st.CreateUser(ctx, &store.User{Subject: subject, Username: username, PasswordHash: hash, CreatedAt: t, UpdatedAt: t}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (subject %s)\n", username, subject)
	return nil
}

func setUserPassword(ctx context.Context, st store.Store, username, pw string, stdout io.Writer) error {
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	u, err := st.GetUserByUsername(ctx, username)
	if err != nil {
		return err
	}
	if err := st.SetPassword(ctx, u.Subject, hash, now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password of %s changed\n", username)
	return nil
}

func deleteUser(ctx context.Context, st store.Store, username string, stdout io.Writer) error {
	u, err := st.GetUserByUsername(ctx, username)
	if err != nil {
		return err
	}
	if _, err := authz.EndUserSessions(ctx, st, u.Subject, now()); err != nil {
		return err
	}
	if err := st.DeleteUser(ctx, u.Subject); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted user %s\n", username)
	return nil
}

// logoutUser ends every login session of a user (authz.EndUserSessions):
// an administrator's session revocation, with back-channel logout.
func logoutUser(ctx context.Context, st store.Store, username string, stdout io.Writer) error {
	u, err := st.GetUserByUsername(ctx, username)
	if err != nil {
		return err
	}
	n, err := authz.EndUserSessions(ctx, st, u.Subject, now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ended %d session(s) of %s\n", n, username)
	return nil
}

func listUsers(ctx context.Context, st store.Store, stdout io.Writer) error {
	us, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tSUBJECT\tSTATIC\tUPDATED")
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", u.Username, u.Subject, u.Static, u.UpdatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

const keysUsage = `Usage: ward keys <list|rotate> (--config FILE | --dev [--data DIR])
  list    the signing keys and their states (next, current, previous, expired)
  rotate  publish a new key now; it signs after keys.publish_ahead`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, stderr, keysUsage)
	if err != nil {
		return err
	}
	var cf configFlags
	fs := newFlagSet("keys "+sub, "keys "+sub+" [flags]", stderr)
	cf.register(fs)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	return withStore(ctx, &cf, func(cfg *config.Config, st store.Store) error {
		switch sub {
		case "list":
			infos, err := keys.List(ctx, st, now())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tSTATE\tSIGNS_FROM\tRETIRES\tUNPUBLISHED")
			for _, k := range infos {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, ts(k.ActivatesAt), ts(k.RetiresAt), ts(k.ExpiresAt))
			}
			return tw.Flush()
		case "rotate":
			km, err := openKeys(cfg, st)
			if err != nil {
				return err
			}
			k, err := km.Rotate(ctx, now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "new key %s (%s) published; it signs from %s\n", k.ID, k.Algorithm, ts(k.ActivatesAt))
			recordChange(ctx, cfg, st, stderr, secevent.Event{Type: secevent.KeyChanged, Reason: "rotated"}) // a kid is token-shaped: Sanitize would strip it
			return nil
		}
		fmt.Fprintln(stderr, keysUsage)
		return errUsage
	})
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
