// Package mtls holds what Ward's authorization server and gateway share for
// mutual TLS (RFC 8705, "OAuth 2.0 Mutual-TLS Client Authentication and
// Certificate-Bound Access Tokens"):
//
//   - [Thumbprint]: the cnf "x5t#S256" value of a certificate (RFC 8705 §3.1).
//   - [SPIFFEID]: the workload identity of an X509-SVID (one spiffe:// URI SAN).
//   - [ServerConfig]: a TLS 1.3-only listener configuration whose certificate
//     and client CAs are reloaded from files without restart; it hands back a
//     *tls.Config and does not own the listener.
//   - [TrustedProxy] and [ClientCertificate]: the client certificate of a
//     request, from the TLS connection or, when TLS is terminated by a proxy
//     the operator trusts by source address, from a header.
//
// # Forwarded certificate format
//
// A TLS-terminating proxy forwards the client's leaf certificate as
// URL-escaped PEM in one header (default [DefaultForwardedHeader]), which is
// what nginx's $ssl_client_escaped_cert produces:
//
//	proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
//
// Envoy produces the same encoding in the Cert= element of
// x-forwarded-client-cert; configure Envoy to set a dedicated header instead.
// The header is honoured only when the request's peer address is inside one of
// [TrustedProxy.Trusted]. Even then the certificate is verified again against
// the configured client CAs: a trusted proxy that was misconfigured to accept
// any client certificate must not turn into a bypass. From any other source the
// header is ignored, and callers must remove it ([TrustedProxy.Strip]) before
// passing the request on.
package mtls
