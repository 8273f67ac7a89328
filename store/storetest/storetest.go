package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

// Racers is how many goroutines the race tests start on one value.
const Racers = 50

// t0 is the suite's clock; nanoseconds included, so that a store that
// truncates times fails.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// Run runs the conformance suite. open must return a new, empty store; the
// suite closes it when the test ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	o := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("Clients", func(t *testing.T) { testClients(t, o(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, o(t)) })
	t.Run("Codes", func(t *testing.T) { testCodes(t, o) })
	t.Run("Families", func(t *testing.T) { testFamilies(t, o) })
	t.Run("RotateGrace", func(t *testing.T) { testRotateGrace(t, o) })
	t.Run("AccessTokens", func(t *testing.T) { testAccessTokens(t, o(t)) })
	t.Run("Revocations", func(t *testing.T) { testRevocations(t, o(t)) })
	t.Run("OneTime", func(t *testing.T) { testOneTime(t, o(t)) })
	t.Run("PARs", func(t *testing.T) { testPARs(t, o(t)) })
	t.Run("Consents", func(t *testing.T) { testConsents(t, o(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, o(t)) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, o(t)) })
	t.Run("Events", func(t *testing.T) { testEvents(t, o(t)) })
	t.Run("DeleteExpired", func(t *testing.T) { testDeleteExpired(t, o(t)) })
	t.Run("LogoutOutbox", func(t *testing.T) { testLogoutOutbox(t, o(t)) })
	t.Run("LogoutClaimRace", func(t *testing.T) { testLogoutClaimRace(t, o(t)) })
	t.Run("Race", func(t *testing.T) { testRaces(t, o) })
}

// RunReopen checks that what the store commits survives Close: in
// particular that the revocation caused by a replayed refresh token is
// durable, since RotateRefreshToken returns an error for it. newOpener
// returns a function that opens the same, initially empty, store each time
// it is called (a database file in t.TempDir(), say).
func RunReopen(t *testing.T, newOpener func(t *testing.T) func() store.Store) {
	ctx := t.Context()
	reopen := newOpener(t)
	s := reopen()
	fam, rt := family("fam-durable", t0.Add(time.Hour))
	mustOK(t, s.CreateFamily(ctx, fam, rt))
	if _, err := s.RotateRefreshToken(ctx, rt.Hash, refresh("durable-2", t0.Add(time.Hour)), t0); err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	_, err := s.RotateRefreshToken(ctx, rt.Hash, refresh("durable-3", t0.Add(time.Hour)), t0.Add(time.Second))
	wantErr(t, "replayed rotation", err, store.ErrAlreadyUsed)
	code := authCode("durable-code", t0.Add(time.Minute))
	mustOK(t, s.PutCode(ctx, code))
	cf, crt := family("fam-code-durable", t0.Add(time.Hour))
	mustOK(t, s.RedeemCode(ctx, code.Hash, cf, crt, t0))
	cf2, _ := family("fam-code-durable-2", t0.Add(time.Hour))
	wantErr(t, "replayed code", s.RedeemCode(ctx, code.Hash, cf2, nil, t0), store.ErrAlreadyUsed)
	mustOK(t, s.Close())

	s = reopen()
	defer s.Close()
	for _, id := range []string{"fam-durable", "fam-code-durable"} {
		f, err := s.GetFamily(ctx, id)
		mustOK(t, err)
		if !f.Revoked() {
			t.Errorf("after reopen, family %q is not revoked", id)
		}
	}
	_, err = s.RotateRefreshToken(ctx, hash("durable-2"), refresh("durable-4", t0.Add(time.Hour)), t0.Add(2*time.Second))
	wantErr(t, "successor after reopen", err, store.ErrRevoked)
}

// --- helpers ---

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error = %v, want %v", what, err, want)
	}
}

// same compares two records field by field: times with Equal, and nil and
// empty slices as equal.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := diff(reflect.ValueOf(got), reflect.ValueOf(want), ""); d != "" {
		t.Fatalf("%s: %s\n got: %+v\nwant: %+v", what, d, got, want)
	}
}

var timeType = reflect.TypeOf(time.Time{})

func diff(a, b reflect.Value, path string) string {
	if a.Kind() == reflect.Pointer {
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path + ": nil mismatch"
			}
			return ""
		}
		return diff(a.Elem(), b.Elem(), path)
	}
	switch {
	case a.Type() == timeType:
		if !a.Interface().(time.Time).Equal(b.Interface().(time.Time)) {
			return fmt.Sprintf("%s: %v != %v", path, a.Interface(), b.Interface())
		}
	case a.Kind() == reflect.Struct:
		for i := range a.NumField() {
			if d := diff(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); d != "" {
				return d
			}
		}
	case a.Kind() == reflect.Slice:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: %v != %v", path, a.Interface(), b.Interface())
		}
		for i := range a.Len() {
			if d := diff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	default:
		if a.Interface() != b.Interface() {
			return fmt.Sprintf("%s: %v != %v", path, a.Interface(), b.Interface())
		}
	}
	return ""
}

func client(id string) *store.Client {
	return &store.Client{
		ID: id, Name: "Client " + id, AuthMethod: oauth.AuthSecretBasic,
		SecretHash: hash("secret-" + id), JWKS: []byte(`{"keys":[]}`),
		RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1/cb"},
		GrantTypes:   []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:       []string{"openid", "read"}, Audiences: []string{"https://api.example"},
		SenderConstraint: store.ConstraintDPoP, RequirePAR: true, RequireSignedRequestObject: true, Profile: "fapi2-security", AllowRememberedConsent: true, AccessTokenTTL: 5 * time.Minute,
		IDTokenSignedResponseAlg: store.AlgRS256, UserinfoSignedResponseAlg: store.AlgES256,
		AuthorizationSignedResponseAlg: store.AlgRS256, IntrospectionSignedResponseAlg: store.AlgES256,
		SubjectType: store.SubjectPairwise, SectorIdentifierURI: "https://app.example/sector.json",
		PostLogoutRedirectURIs: []string{"https://app.example/bye", "http://127.0.0.1/bye"},
		BackchannelLogoutURI:   "https://app.example/backchannel", BackchannelLogoutSessionRequired: true,
		LogoutRevokesGrants: true, DefaultMaxAge: 90 * time.Minute,
		LogoURI: "https://cdn.example/logo.png", ClientURI: "https://app.example/",
		CreatedAt: t0,
	}
}

func user(subject, username string) *store.User {
	return &store.User{Subject: subject, Username: username, PasswordHash: "$argon2id$x",
		CreatedAt: t0, UpdatedAt: t0}
}

// fullClaims sets every standard claim, both booleans false (present, not
// absent) and Unicode in the strings.
func fullClaims() store.UserClaims {
	no := false
	return store.UserClaims{
		Name: "Zoë Müller", GivenName: "Zoë", FamilyName: "Müller", MiddleName: "A.", Nickname: "zo",
		PreferredUsername: "zoe", Profile: "https://zoe.example", Picture: "https://zoe.example/p.png",
		Website: "https://zoe.example/blog", Email: "zoe@example.com", EmailVerified: &no, Gender: "female",
		Birthdate: "0000-03-14", Zoneinfo: "Europe/Paris", Locale: "fr-FR", PhoneNumber: "+33 1 23 45 67 89",
		PhoneNumberVerified: &no,
		Address: &store.Address{Formatted: "1 rue X\n75001 Paris", StreetAddress: "1 rue X", Locality: "Paris",
			Region: "IDF", PostalCode: "75001", Country: "FR"},
	}
}

func authCode(name string, exp time.Time) *store.AuthCode {
	return &store.AuthCode{
		Hash: hash(name), ClientID: "c1", Subject: "alice", RedirectURI: "https://app.example/cb",
		Scope: "openid read", Resources: []string{"https://api.example"},
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", DPoPJKT: "jkt",
		AuthTime: t0.Add(-time.Minute), CreatedAt: t0, ExpiresAt: exp,
		OIDC: store.OIDC{Nonce: "n-0S6_WzA2Mj", ACR: "urn:ward:pwd", AMR: []string{"pwd"},
			SID: store.SessionID(hash("cookie")), ClaimsRequest: `{"id_token":{"email":{"essential":true}}}`},
	}
}

func family(id string, exp time.Time) (*store.Family, *store.RefreshToken) {
	f := &store.Family{ID: id, ClientID: "c1", Subject: "alice", Scope: "openid read",
		Resources: []string{"https://api.example"}, JKT: "jkt", AuthTime: t0.Add(-time.Minute),
		OIDC: store.OIDC{ACR: "urn:ward:pwd", AMR: []string{"pwd"}, SID: store.SessionID(hash("cookie")),
			ClaimsRequest: `{"id_token":{"email":{"essential":true}}}`},
		CreatedAt: t0, ExpiresAt: exp}
	return f, &store.RefreshToken{Hash: hash("rt-" + id), FamilyID: id, Scope: "openid read",
		CreatedAt: t0, ExpiresAt: exp}
}

func refresh(name string, exp time.Time) *store.RefreshToken {
	return &store.RefreshToken{Hash: hash(name), Scope: "openid read", CreatedAt: t0, ExpiresAt: exp}
}

// --- clients and users ---

func testClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetClient(ctx, "c1")
	wantErr(t, "get missing", err, store.ErrNotFound)

	c := client("c1")
	mustOK(t, s.CreateClient(ctx, c))
	got, err := s.GetClient(ctx, "c1")
	mustOK(t, err)
	same(t, "get", got, c)
	wantErr(t, "create duplicate", s.CreateClient(ctx, client("c1")), store.ErrAlreadyExists)

	// A public client with no secret and empty slices round-trips.
	pub := &store.Client{ID: "c0", Name: "public", AuthMethod: oauth.AuthNone, SenderConstraint: store.ConstraintDPoP, CreatedAt: t0}
	mustOK(t, s.CreateClient(ctx, pub))
	got, err = s.GetClient(ctx, "c0")
	mustOK(t, err)
	same(t, "public", got, pub)
	if !got.Public() || len(got.SecretHash) != 0 {
		t.Fatalf("public client: Public() = %v, SecretHash = %x", got.Public(), got.SecretHash)
	}

	// Upsert creates, then replaces everything but CreatedAt.
	up := client("c2")
	up.Static = true
	mustOK(t, s.UpsertClient(ctx, up))
	up2 := client("c2")
	up2.Name, up2.Static, up2.Scopes, up2.CreatedAt = "renamed", true, []string{"write"}, t0.Add(time.Hour)
	up2.IDTokenSignedResponseAlg, up2.SubjectType, up2.PostLogoutRedirectURIs = "", "", nil
	up2.BackchannelLogoutSessionRequired, up2.LogoutRevokesGrants, up2.DefaultMaxAge = false, false, 0
	up2.RequireSignedRequestObject = false
	up2.AuthorizationSignedResponseAlg, up2.IntrospectionSignedResponseAlg = "", store.AlgRS256
	mustOK(t, s.UpsertClient(ctx, up2))
	got, err = s.GetClient(ctx, "c2")
	mustOK(t, err)
	up2.CreatedAt = t0
	same(t, "upserted", got, up2)

	list, err := s.ListClients(ctx)
	mustOK(t, err)
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"c0", "c1", "c2"}) {
		t.Fatalf("ListClients IDs = %v, want [c0 c1 c2]", ids)
	}

	mustOK(t, s.DeleteClient(ctx, "c1"))
	_, err = s.GetClient(ctx, "c1")
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete missing", s.DeleteClient(ctx, "c1"), store.ErrNotFound)
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetUser(ctx, "alice")
	wantErr(t, "get missing", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "alice")
	wantErr(t, "get missing by username", err, store.ErrNotFound)

	u := user("sub-alice", "alice")
	mustOK(t, s.CreateUser(ctx, u))
	got, err := s.GetUser(ctx, "sub-alice")
	mustOK(t, err)
	same(t, "get", got, u)
	got, err = s.GetUserByUsername(ctx, "alice")
	mustOK(t, err)
	same(t, "get by username", got, u)
	_, err = s.GetUserByUsername(ctx, "Alice")
	wantErr(t, "username is case-sensitive", err, store.ErrNotFound)

	wantErr(t, "duplicate subject", s.CreateUser(ctx, user("sub-alice", "other")), store.ErrAlreadyExists)
	wantErr(t, "duplicate username", s.CreateUser(ctx, user("sub-other", "alice")), store.ErrAlreadyExists)

	// Every standard claim round-trips, false booleans included.
	zoe := user("sub-zoe", "zoe")
	zoe.Claims = fullClaims()
	mustOK(t, s.CreateUser(ctx, zoe))
	got, err = s.GetUser(ctx, "sub-zoe")
	mustOK(t, err)
	same(t, "claims", got, zoe)
	mustOK(t, s.DeleteUser(ctx, "sub-zoe"))

	mustOK(t, s.UpsertUser(ctx, user("sub-bob", "bob")))
	bob := user("sub-bob", "robert")
	bob.Claims = store.UserClaims{Name: "Robert", Email: "bob@example.com"}
	bob.Static, bob.PasswordHash, bob.CreatedAt, bob.UpdatedAt = true, "$argon2id$y", t0.Add(time.Hour), t0.Add(time.Hour)
	mustOK(t, s.UpsertUser(ctx, bob))
	got, err = s.GetUser(ctx, "sub-bob")
	mustOK(t, err)
	bob.CreatedAt = t0
	same(t, "upserted", got, bob)
	wantErr(t, "upsert taking another's username", s.UpsertUser(ctx, user("sub-bob", "alice")), store.ErrAlreadyExists)

	mustOK(t, s.SetPassword(ctx, "sub-alice", "$argon2id$new", t0.Add(time.Minute)))
	got, err = s.GetUser(ctx, "sub-alice")
	mustOK(t, err)
	if got.PasswordHash != "$argon2id$new" || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after SetPassword: %+v", got)
	}
	wantErr(t, "set password of missing", s.SetPassword(ctx, "nobody", "x", t0), store.ErrNotFound)

	list, err := s.ListUsers(ctx)
	mustOK(t, err)
	if len(list) != 2 || list[0].Username != "alice" || list[1].Username != "robert" {
		t.Fatalf("ListUsers = %+v", list)
	}
	mustOK(t, s.DeleteUser(ctx, "sub-alice"))
	_, err = s.GetUser(ctx, "sub-alice")
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete missing", s.DeleteUser(ctx, "sub-alice"), store.ErrNotFound)
}
