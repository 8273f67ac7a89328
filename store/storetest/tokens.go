package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

func testCodes(t *testing.T, open func(*testing.T) store.Store) {
	exp := t0.Add(time.Minute)
	t.Run("PutGet", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := authCode("code", exp)
		_, err := s.GetCode(ctx, c.Hash, t0)
		wantErr(t, "get missing", err, store.ErrNotFound)
		mustOK(t, s.PutCode(ctx, c))
		got, err := s.GetCode(ctx, c.Hash, t0)
		mustOK(t, err)
		same(t, "get", got, c)
		wantErr(t, "put duplicate", s.PutCode(ctx, authCode("code", exp)), store.ErrAlreadyExists)
		_, err = s.GetCode(ctx, c.Hash, exp.Add(-time.Nanosecond))
		mustOK(t, err)
		_, err = s.GetCode(ctx, c.Hash, exp)
		wantErr(t, "get at ExpiresAt", err, store.ErrExpired)
	})
	t.Run("Redeem", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := authCode("code", exp)
		mustOK(t, s.PutCode(ctx, c))
		fam, rt := family("fam1", t0.Add(time.Hour))
		mustOK(t, s.RedeemCode(ctx, c.Hash, fam, rt, t0))
		got, err := s.GetCode(ctx, c.Hash, t0)
		wantErr(t, "get redeemed", err, store.ErrAlreadyUsed)
		if got == nil || got.FamilyID != "fam1" {
			t.Fatalf("redeemed code = %+v, want FamilyID fam1", got)
		}
		gotFam, err := s.GetFamily(ctx, "fam1")
		mustOK(t, err)
		same(t, "family", gotFam, fam)
		gotRT, gotRTFam, err := s.GetRefreshToken(ctx, rt.Hash)
		mustOK(t, err)
		same(t, "refresh token", gotRT, rt)
		same(t, "refresh token family", gotRTFam, fam)
	})
	t.Run("RedeemWithoutRefreshToken", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := authCode("code", exp)
		mustOK(t, s.PutCode(ctx, c))
		fam, _ := family("fam1", t0.Add(time.Hour))
		mustOK(t, s.RedeemCode(ctx, c.Hash, fam, nil, t0))
		_, err := s.GetFamily(ctx, "fam1")
		mustOK(t, err)
	})
	// RFC 9700 §4.5: a second redemption fails and revokes the family the
	// first one created, durably (the revocation is committed although
	// the call returns an error).
	t.Run("ReuseRevokesFamily", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := authCode("code", exp)
		mustOK(t, s.PutCode(ctx, c))
		fam, rt := family("fam1", t0.Add(time.Hour))
		mustOK(t, s.RedeemCode(ctx, c.Hash, fam, rt, t0))
		fam2, rt2 := family("fam2", t0.Add(time.Hour))
		wantErr(t, "second redeem", s.RedeemCode(ctx, c.Hash, fam2, rt2, t0.Add(time.Second)), store.ErrAlreadyUsed)
		got, err := s.GetFamily(ctx, "fam1")
		mustOK(t, err)
		if !got.Revoked() || !got.RevokedAt.Equal(t0.Add(time.Second)) || got.RevokedReason == "" {
			t.Fatalf("after code reuse, family = %+v, want revoked at t0+1s with a reason", got)
		}
		_, err = s.GetFamily(ctx, "fam2")
		wantErr(t, "second family", err, store.ErrNotFound)
		_, err = s.RotateRefreshToken(ctx, rt.Hash, refresh("next", t0.Add(time.Hour)), t0.Add(2*time.Second))
		wantErr(t, "rotate in revoked family", err, store.ErrRevoked)
		// Even after the code's expiry, a replay is still reuse.
		wantErr(t, "redeem after expiry", s.RedeemCode(ctx, c.Hash, fam2, nil, exp.Add(time.Hour)), store.ErrAlreadyUsed)
	})
	t.Run("RedeemExpired", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := authCode("code", exp)
		mustOK(t, s.PutCode(ctx, c))
		fam, rt := family("fam1", t0.Add(time.Hour))
		wantErr(t, "redeem expired", s.RedeemCode(ctx, c.Hash, fam, rt, exp), store.ErrExpired)
		_, err := s.GetFamily(ctx, "fam1")
		wantErr(t, "family of expired code", err, store.ErrNotFound)
		// The failed redemption did not consume the code.
		_, err = s.GetCode(ctx, c.Hash, t0)
		mustOK(t, err)
	})
	t.Run("RedeemMissing", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		fam, rt := family("fam1", t0.Add(time.Hour))
		wantErr(t, "redeem missing", s.RedeemCode(ctx, hash("nope"), fam, rt, t0), store.ErrNotFound)
	})
}

func testFamilies(t *testing.T, open func(*testing.T) store.Store) {
	famExp := t0.Add(24 * time.Hour)
	t.Run("CreateGet", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		_, err := s.GetFamily(ctx, "fam1")
		wantErr(t, "get missing", err, store.ErrNotFound)
		_, _, err = s.GetRefreshToken(ctx, hash("nope"))
		wantErr(t, "get missing token", err, store.ErrNotFound)
		fam, rt := family("fam1", famExp)
		fam.CertThumbprint = "x5t"
		mustOK(t, s.CreateFamily(ctx, fam, rt))
		got, err := s.GetFamily(ctx, "fam1")
		mustOK(t, err)
		same(t, "family", got, fam)
		gotRT, gotFam, err := s.GetRefreshToken(ctx, rt.Hash)
		mustOK(t, err)
		same(t, "token", gotRT, rt)
		same(t, "token's family", gotFam, fam)
		dup, _ := family("fam1", famExp)
		wantErr(t, "create duplicate", s.CreateFamily(ctx, dup, nil), store.ErrAlreadyExists)
		// A duplicate refresh token rolls back the whole family.
		other, otherRT := family("fam2", famExp)
		otherRT.Hash = rt.Hash
		wantErr(t, "duplicate token", s.CreateFamily(ctx, other, otherRT), store.ErrAlreadyExists)
		_, err = s.GetFamily(ctx, "fam2")
		wantErr(t, "family of failed create", err, store.ErrNotFound)
	})
	t.Run("Rotate", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		fam, rt := family("fam1", famExp)
		mustOK(t, s.CreateFamily(ctx, fam, rt))
		next := refresh("rt2", t0.Add(time.Hour))
		got, err := s.RotateRefreshToken(ctx, rt.Hash, next, t0.Add(time.Minute))
		mustOK(t, err)
		same(t, "returned family", got, fam)
		old, _, err := s.GetRefreshToken(ctx, rt.Hash)
		mustOK(t, err)
		if !old.RotatedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("old RotatedAt = %v, want t0+1m", old.RotatedAt)
		}
		gotNext, _, err := s.GetRefreshToken(ctx, next.Hash)
		mustOK(t, err)
		if gotNext.FamilyID != "fam1" || !gotNext.RotatedAt.IsZero() {
			t.Fatalf("next = %+v", gotNext)
		}
		// The successor rotates in turn.
		_, err = s.RotateRefreshToken(ctx, next.Hash, refresh("rt3", t0.Add(2*time.Hour)), t0.Add(2*time.Minute))
		mustOK(t, err)
		_, err = s.RotateRefreshToken(ctx, hash("nope"), refresh("rt4", famExp), t0)
		wantErr(t, "rotate missing", err, store.ErrNotFound)
	})
	// RFC 9700 §4.14.2: presenting a rotated refresh token revokes the
	// family; the revocation is committed although the call fails.
	t.Run("ReuseRevokesFamily", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		fam, rt := family("fam1", famExp)
		mustOK(t, s.CreateFamily(ctx, fam, rt))
		next := refresh("rt2", famExp)
		_, err := s.RotateRefreshToken(ctx, rt.Hash, next, t0)
		mustOK(t, err)
		_, err = s.RotateRefreshToken(ctx, rt.Hash, refresh("rt3", famExp), t0.Add(time.Second))
		wantErr(t, "replay", err, store.ErrAlreadyUsed)
		f, err := s.GetFamily(ctx, "fam1")
		mustOK(t, err)
		if !f.Revoked() || f.RevokedReason == "" {
			t.Fatalf("family after replay = %+v, want revoked with a reason", f)
		}
		_, _, err = s.GetRefreshToken(ctx, hash("rt3"))
		wantErr(t, "token of failed rotation", err, store.ErrNotFound)
		// The legitimate successor is dead too.
		_, err = s.RotateRefreshToken(ctx, next.Hash, refresh("rt4", famExp), t0.Add(2*time.Second))
		wantErr(t, "successor", err, store.ErrRevoked)
		// Replaying again is still reuse.
		_, err = s.RotateRefreshToken(ctx, rt.Hash, refresh("rt5", famExp), t0.Add(3*time.Second))
		wantErr(t, "second replay", err, store.ErrAlreadyUsed)
	})
	t.Run("RotateRevoked", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		fam, rt := family("fam1", famExp)
		mustOK(t, s.CreateFamily(ctx, fam, rt))
		mustOK(t, s.RevokeFamily(ctx, "fam1", "logout", t0))
		_, err := s.RotateRefreshToken(ctx, rt.Hash, refresh("rt2", famExp), t0.Add(time.Second))
		wantErr(t, "rotate", err, store.ErrRevoked)
		old, _, err := s.GetRefreshToken(ctx, rt.Hash)
		mustOK(t, err)
		if !old.RotatedAt.IsZero() {
			t.Fatal("a refused rotation marked the token rotated")
		}
	})
	t.Run("RotateExpired", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		fam, rt := family("fam1", famExp)
		rt.ExpiresAt = t0.Add(time.Hour)
		mustOK(t, s.CreateFamily(ctx, fam, rt))
		_, err := s.RotateRefreshToken(ctx, rt.Hash, refresh("rt2", famExp), t0.Add(time.Hour))
		wantErr(t, "token expired", err, store.ErrExpired)
		fam2, rt2 := family("fam2", t0.Add(time.Hour))
		rt2.ExpiresAt = famExp
		mustOK(t, s.CreateFamily(ctx, fam2, rt2))
		_, err = s.RotateRefreshToken(ctx, rt2.Hash, refresh("rt3", famExp), t0.Add(time.Hour))
		wantErr(t, "family expired", err, store.ErrExpired)
		_, err = s.RotateRefreshToken(ctx, rt2.Hash, refresh("rt3", famExp), t0.Add(time.Hour-time.Nanosecond))
		mustOK(t, err)
	})
	t.Run("Revoke", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		fam, _ := family("fam1", famExp)
		mustOK(t, s.CreateFamily(ctx, fam, nil))
		mustOK(t, s.RevokeFamily(ctx, "fam1", "first", t0))
		mustOK(t, s.RevokeFamily(ctx, "fam1", "second", t0.Add(time.Hour)))
		got, err := s.GetFamily(ctx, "fam1")
		mustOK(t, err)
		if !got.RevokedAt.Equal(t0) || got.RevokedReason != "first" {
			t.Fatalf("revoked twice: RevokedAt %v reason %q, want the first", got.RevokedAt, got.RevokedReason)
		}
		wantErr(t, "revoke missing", s.RevokeFamily(ctx, "nope", "x", t0), store.ErrNotFound)
	})
	t.Run("List", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for i, id := range []string{"b", "a", "c"} {
			f, _ := family(id, famExp)
			f.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			if id == "c" {
				f.Subject = "bob"
			}
			mustOK(t, s.CreateFamily(ctx, f, nil))
		}
		mustOK(t, s.RevokeFamily(ctx, "a", "x", t0))
		list, err := s.ListFamilies(ctx, "alice")
		mustOK(t, err)
		if len(list) != 2 || list[0].ID != "b" || list[1].ID != "a" || !list[1].Revoked() {
			t.Fatalf("ListFamilies(alice) = %+v, want b, then revoked a", list)
		}
	})
	// A logout finds the grants of one login session by its sid.
	t.Run("ListBySID", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		sid, other := store.SessionID(hash("s1")), store.SessionID(hash("s2"))
		for i, f := range []struct{ id, sid, client string }{
			{"b", sid, "c1"}, {"a", sid, "c2"}, {"c", other, "c1"}, {"d", "", "c1"},
		} {
			fam, _ := family(f.id, famExp)
			fam.SID, fam.ClientID = f.sid, f.client
			fam.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			mustOK(t, s.CreateFamily(ctx, fam, nil))
		}
		mustOK(t, s.RevokeFamily(ctx, "a", "x", t0))
		list, err := s.ListFamiliesBySID(ctx, sid)
		mustOK(t, err)
		if len(list) != 2 || list[0].ID != "b" || list[1].ID != "a" || !list[1].Revoked() || list[1].ClientID != "c2" {
			t.Fatalf("ListFamiliesBySID = %+v, want b, then revoked a", list)
		}
		if list, err := s.ListFamiliesBySID(ctx, ""); err != nil || len(list) != 0 {
			t.Fatalf("ListFamiliesBySID(\"\") = %+v, %v; want none", list, err)
		}
	})
}

func testAccessTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	revoked, err := s.AccessTokenRevoked(ctx, "jti1")
	if err != nil || revoked {
		t.Fatalf("unknown jti: %v, %v", revoked, err)
	}
	mustOK(t, s.RevokeAccessToken(ctx, "jti1", t0.Add(time.Hour), t0))
	mustOK(t, s.RevokeAccessToken(ctx, "jti1", t0.Add(time.Minute), t0)) // idempotent, keeps the later expiry
	revoked, err = s.AccessTokenRevoked(ctx, "jti1")
	if err != nil || !revoked {
		t.Fatalf("revoked jti: %v, %v", revoked, err)
	}
	// The later expiry was kept: cleaning up before it leaves the record.
	_, err = s.DeleteExpired(ctx, t0.Add(30*time.Minute), 100)
	mustOK(t, err)
	if revoked, _ = s.AccessTokenRevoked(ctx, "jti1"); !revoked {
		t.Fatal("revocation removed before its expiry")
	}
}

// testOneTime checks single use by the caller's clock, whatever the wall
// clock says (t0 is years away from it).
func testOneTime(t *testing.T, s store.Store) {
	ctx := t.Context()
	future := t0.Add(time.Hour)
	mustOK(t, s.UseOnce(ctx, "jti1", future, t0))
	wantErr(t, "second use", s.UseOnce(ctx, "jti1", future, t0), store.ErrAlreadyUsed)
	wantErr(t, "second use a minute later", s.UseOnce(ctx, "jti1", future, t0.Add(time.Minute)), store.ErrAlreadyUsed)
	mustOK(t, s.UseOnce(ctx, "jti2", future, t0))

	mustOK(t, s.UseOnce(ctx, "old", t0.Add(time.Minute), t0))
	// Still live one second before its expiry; replaced once it passed.
	wantErr(t, "before expiry", s.UseOnce(ctx, "old", future, t0.Add(59*time.Second)), store.ErrAlreadyUsed)
	mustOK(t, s.UseOnce(ctx, "old", future, t0.Add(2*time.Minute)))
	wantErr(t, "use after replacement", s.UseOnce(ctx, "old", future, t0.Add(2*time.Minute)), store.ErrAlreadyUsed)
}

func testPARs(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := &store.PARRequest{ID: "req1", ClientID: "c1", Params: "response_type=code&client_id=c1",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	mustOK(t, s.PutPAR(ctx, p))
	wantErr(t, "put duplicate", s.PutPAR(ctx, p), store.ErrAlreadyExists)
	// Another client cannot consume it, and does not use it up.
	_, err := s.ConsumePAR(ctx, "req1", "c2", t0)
	wantErr(t, "consume by another client", err, store.ErrNotFound)
	got, err := s.ConsumePAR(ctx, "req1", "c1", t0)
	mustOK(t, err)
	same(t, "consumed", got, p)
	_, err = s.ConsumePAR(ctx, "req1", "c1", t0)
	wantErr(t, "consume twice", err, store.ErrNotFound)

	p2 := *p
	p2.ID = "req2"
	mustOK(t, s.PutPAR(ctx, &p2))
	_, err = s.ConsumePAR(ctx, "req2", "c1", p2.ExpiresAt)
	wantErr(t, "consume expired", err, store.ErrExpired)
	_, err = s.ConsumePAR(ctx, "missing", "c1", t0)
	wantErr(t, "consume missing", err, store.ErrNotFound)
}

func testConsents(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetConsent(ctx, "alice", "c1")
	wantErr(t, "get missing", err, store.ErrNotFound)
	mustOK(t, s.GrantConsent(ctx, &store.Consent{Subject: "alice", ClientID: "c1", Scopes: []string{"openid", "read"}, GrantedAt: t0}))
	mustOK(t, s.GrantConsent(ctx, &store.Consent{Subject: "alice", ClientID: "c1", Scopes: []string{"read", "write"}, GrantedAt: t0.Add(time.Hour)}))
	got, err := s.GetConsent(ctx, "alice", "c1")
	mustOK(t, err)
	same(t, "merged", got, &store.Consent{Subject: "alice", ClientID: "c1",
		Scopes: []string{"openid", "read", "write"}, GrantedAt: t0.Add(time.Hour)})
	mustOK(t, s.GrantConsent(ctx, &store.Consent{Subject: "alice", ClientID: "c0", Scopes: []string{"openid"}, GrantedAt: t0}))
	mustOK(t, s.GrantConsent(ctx, &store.Consent{Subject: "bob", ClientID: "c1", Scopes: []string{"openid"}, GrantedAt: t0}))
	list, err := s.ListConsents(ctx, "alice")
	mustOK(t, err)
	if len(list) != 2 || list[0].ClientID != "c0" || list[1].ClientID != "c1" {
		t.Fatalf("ListConsents(alice) = %+v", list)
	}
	mustOK(t, s.RevokeConsent(ctx, "alice", "c1"))
	_, err = s.GetConsent(ctx, "alice", "c1")
	wantErr(t, "get revoked", err, store.ErrNotFound)
	mustOK(t, s.RevokeConsent(ctx, "alice", "c1")) // idempotent
	if _, err := s.GetConsent(ctx, "bob", "c1"); err != nil {
		t.Fatalf("another subject's consent: %v", err)
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	ss := &store.Session{Hash: hash("cookie"), Subject: "alice", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	_, err := s.GetSession(ctx, ss.Hash, t0)
	wantErr(t, "get missing", err, store.ErrNotFound)
	mustOK(t, s.PutSession(ctx, ss))
	wantErr(t, "put duplicate", s.PutSession(ctx, ss), store.ErrAlreadyExists)
	got, err := s.GetSession(ctx, ss.Hash, t0)
	mustOK(t, err)
	same(t, "get", got, ss)
	// The sid is stable for a session and differs between sessions.
	if sid := got.SID(); sid != ss.SID() || len(sid) != 43 || sid == (&store.Session{Hash: hash("cookie2")}).SID() {
		t.Fatalf("SID() = %q: not stable, not 43 characters, or shared", sid)
	}
	_, err = s.GetSession(ctx, ss.Hash, ss.ExpiresAt)
	wantErr(t, "get expired", err, store.ErrExpired)
	mustOK(t, s.DeleteSession(ctx, ss.Hash))
	_, err = s.GetSession(ctx, ss.Hash, t0)
	wantErr(t, "get deleted", err, store.ErrNotFound)
	mustOK(t, s.DeleteSession(ctx, ss.Hash)) // idempotent

	// ListSessions: the subject's live sessions only, oldest first.
	a := &store.Session{Hash: hash("a"), Subject: "alice", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	b := &store.Session{Hash: hash("b"), Subject: "alice", AuthTime: t0, CreatedAt: t0.Add(time.Second), ExpiresAt: t0.Add(2 * time.Hour)}
	old := &store.Session{Hash: hash("old"), Subject: "alice", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	bob := &store.Session{Hash: hash("bob"), Subject: "bob", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, x := range []*store.Session{b, a, old, bob} {
		mustOK(t, s.PutSession(ctx, x))
	}
	list, err := s.ListSessions(ctx, "alice", t0.Add(time.Minute))
	mustOK(t, err)
	if len(list) != 2 {
		t.Fatalf("ListSessions: %d sessions, want a and b (old expired, bob another user's)", len(list))
	}
	same(t, "first", list[0], a)
	same(t, "second", list[1], b)
	list, err = s.ListSessions(ctx, "carol", t0)
	mustOK(t, err)
	if len(list) != 0 {
		t.Fatalf("ListSessions of nobody: %v", list)
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := &store.SigningKey{ID: "k1", Algorithm: "ES256", PublicJWK: []byte(`{"kty":"EC"}`), PrivateEnc: []byte{1, 2, 3},
		CreatedAt: t0, ActivatesAt: t0.Add(time.Hour)}
	k2 := &store.SigningKey{ID: "k2", Algorithm: "EdDSA", PublicJWK: []byte(`{"kty":"OKP"}`), PrivateEnc: []byte{4},
		CreatedAt: t0.Add(time.Minute), ActivatesAt: t0.Add(time.Minute)}
	mustOK(t, s.PutSigningKey(ctx, k1))
	mustOK(t, s.PutSigningKey(ctx, k2))
	wantErr(t, "put duplicate", s.PutSigningKey(ctx, k1), store.ErrAlreadyExists)
	k1.RetiresAt, k1.ExpiresAt = t0.Add(48*time.Hour), t0.Add(72*time.Hour)
	mustOK(t, s.UpdateSigningKey(ctx, k1))
	wantErr(t, "update missing", s.UpdateSigningKey(ctx, &store.SigningKey{ID: "nope", PublicJWK: []byte{}, PrivateEnc: []byte{}}), store.ErrNotFound)
	list, err := s.ListSigningKeys(ctx)
	mustOK(t, err)
	if len(list) != 2 {
		t.Fatalf("ListSigningKeys: %d keys, want 2", len(list))
	}
	same(t, "k1", list[0], k1)
	same(t, "k2", list[1], k2)
	mustOK(t, s.DeleteSigningKey(ctx, "k2"))
	wantErr(t, "delete missing", s.DeleteSigningKey(ctx, "k2"), store.ErrNotFound)
	if list, _ = s.ListSigningKeys(ctx); len(list) != 1 || !bytes.Equal(list[0].PrivateEnc, k1.PrivateEnc) {
		t.Fatalf("after delete: %+v", list)
	}
}
