-- Message signing (docs/AUTHZ.md): the JWS algorithm of a client's
-- JWT-secured authorization responses (JARM §3) and of the JWT
-- introspection responses it asks for (RFC 9701 §6). Empty: the
-- server's primary signing algorithm.
ALTER TABLE clients ADD COLUMN authorization_signed_response_alg TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN introspection_signed_response_alg TEXT NOT NULL DEFAULT '';
