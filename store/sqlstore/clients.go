package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardauth/ward/store"
)

const clientCols = `id, name, auth_method, secret_hash, jwks, redirect_uris, grant_types, scopes,
	audiences, sender_constraint, require_par, access_token_ttl, static, created_at, allow_remembered_consent,
	id_token_signed_response_alg, userinfo_signed_response_alg, subject_type, sector_identifier_uri,
	post_logout_redirect_uris, backchannel_logout_uri, backchannel_logout_session_required,
	logout_revokes_grants, default_max_age, logo_uri, client_uri, require_signed_request_object,
	authorization_signed_response_alg, introspection_signed_response_alg, profile`

// clientPlaceholders is one ? per column of clientCols.
const clientPlaceholders = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

func clientArgs(c *store.Client) []any {
	return []any{c.ID, c.Name, c.AuthMethod, bytesArg(c.SecretHash), bytesArg(c.JWKS),
		jsonArg(c.RedirectURIs), jsonArg(c.GrantTypes), jsonArg(c.Scopes), jsonArg(c.Audiences),
		c.SenderConstraint, c.RequirePAR, int64(c.AccessTokenTTL), c.Static, timeArg(c.CreatedAt), c.AllowRememberedConsent,
		c.IDTokenSignedResponseAlg, c.UserinfoSignedResponseAlg, c.SubjectType, c.SectorIdentifierURI,
		jsonArg(c.PostLogoutRedirectURIs), c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired,
		c.LogoutRevokesGrants, int64(c.DefaultMaxAge), c.LogoURI, c.ClientURI, c.RequireSignedRequestObject,
		c.AuthorizationSignedResponseAlg, c.IntrospectionSignedResponseAlg, c.Profile}
}

func scanClient(sc scanner) (*store.Client, error) {
	var (
		c                         store.Client
		redirects, grants, scopes string
		auds, postLogout          string
		ttl, maxAge               int64
		created                   sql.NullInt64
	)
	if err := sc.Scan(&c.ID, &c.Name, &c.AuthMethod, &c.SecretHash, &c.JWKS, &redirects, &grants,
		&scopes, &auds, &c.SenderConstraint, &c.RequirePAR, &ttl, &c.Static, &created, &c.AllowRememberedConsent,
		&c.IDTokenSignedResponseAlg, &c.UserinfoSignedResponseAlg, &c.SubjectType, &c.SectorIdentifierURI,
		&postLogout, &c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired,
		&c.LogoutRevokesGrants, &maxAge, &c.LogoURI, &c.ClientURI, &c.RequireSignedRequestObject,
		&c.AuthorizationSignedResponseAlg, &c.IntrospectionSignedResponseAlg, &c.Profile); err != nil {
		return nil, err
	}
	c.AccessTokenTTL, c.DefaultMaxAge = time.Duration(ttl), time.Duration(maxAge)
	c.CreatedAt = timeVal(created)
	if err := jsonVals(redirects, &c.RedirectURIs, grants, &c.GrantTypes, scopes, &c.Scopes, auds, &c.Audiences,
		postLogout, &c.PostLogoutRedirectURIs); err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateClient implements [store.Clients].
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO clients (`+clientCols+`)
		VALUES (`+clientPlaceholders+`)`), clientArgs(c)...)
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: create client %q: %w", c.ID, store.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create client %q: %w", c.ID, err)
	}
	return nil
}

// UpsertClient implements [store.Clients]. A replaced client keeps its
// original CreatedAt.
func (s *Store) UpsertClient(ctx context.Context, c *store.Client) error {
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO clients (`+clientCols+`)
		VALUES (`+clientPlaceholders+`)
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name, auth_method = excluded.auth_method,
			secret_hash = excluded.secret_hash, jwks = excluded.jwks,
			redirect_uris = excluded.redirect_uris, grant_types = excluded.grant_types,
			scopes = excluded.scopes, audiences = excluded.audiences,
			sender_constraint = excluded.sender_constraint, require_par = excluded.require_par,
			access_token_ttl = excluded.access_token_ttl, static = excluded.static,
			allow_remembered_consent = excluded.allow_remembered_consent,
			id_token_signed_response_alg = excluded.id_token_signed_response_alg,
			userinfo_signed_response_alg = excluded.userinfo_signed_response_alg,
			subject_type = excluded.subject_type, sector_identifier_uri = excluded.sector_identifier_uri,
			post_logout_redirect_uris = excluded.post_logout_redirect_uris,
			backchannel_logout_uri = excluded.backchannel_logout_uri,
			backchannel_logout_session_required = excluded.backchannel_logout_session_required,
			logout_revokes_grants = excluded.logout_revokes_grants,
			default_max_age = excluded.default_max_age,
			logo_uri = excluded.logo_uri, client_uri = excluded.client_uri,
			require_signed_request_object = excluded.require_signed_request_object,
			authorization_signed_response_alg = excluded.authorization_signed_response_alg,
			introspection_signed_response_alg = excluded.introspection_signed_response_alg,
			profile = excluded.profile`), clientArgs(c)...)
	if err != nil {
		return fmt.Errorf("sqlstore: upsert client %q: %w", c.ID, err)
	}
	return nil
}

// GetClient implements [store.Clients].
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	c, err := scanClient(s.r.QueryRowContext(ctx, s.q(`SELECT `+clientCols+` FROM clients WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: get client %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get client %q: %w", id, err)
	}
	return c, nil
}

// ListClients implements [store.Clients], ordered by ID.
func (s *Store) ListClients(ctx context.Context) ([]*store.Client, error) {
	return queryAll(ctx, s, "list clients", `SELECT `+clientCols+` FROM clients ORDER BY id`, scanClient)
}

// DeleteClient implements [store.Clients].
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := exec1(ctx, s.w, s.q(`DELETE FROM clients WHERE id = ?`), store.ErrNotFound, id); err != nil {
		return fmt.Errorf("sqlstore: delete client %q: %w", id, err)
	}
	return nil
}
