package gateway

// Outcome is the outcome label of ward_gateway_requests_total and
// ward_gateway_request_duration_seconds, and the "outcome" key of the
// request log: how the gateway answered a request.
type Outcome string

// The gateway's outcomes. The strings are the exported label values.
const (
	outcomeUnset         Outcome = "ok" // before the request is decided
	OutcomeAllowed       Outcome = "allowed"
	OutcomePublic        Outcome = "public"   // an unauthenticated route
	OutcomeMount         Outcome = "mount"    // a handler mounted in the gateway
	OutcomeMetadata      Outcome = "metadata" // an RFC 9728 document
	OutcomeRejected      Outcome = "rejected" // a malformed or unauthenticated request
	OutcomeDenied        Outcome = "denied"   // refused by policy
	OutcomeRateLimited   Outcome = "rate_limited"
	OutcomeNoRoute       Outcome = "no_route"
	OutcomeUpstreamError Outcome = "upstream_error"
	OutcomeError         Outcome = "error" // the gateway's own failure
)

// Reason is the stable reason label of ward_gateway_rejections_total, the
// Reason of a Decision and of the *oauth.Error the gateway answers with.
// Reasons from elsewhere (dpop.Reason, resource's, policy's) keep their
// own names; these are the gateway's own.
type Reason string

// The gateway's own refusal reasons.
const (
	ReasonBodyTooLarge   Reason = "body_too_large"
	ReasonUnknownHost    Reason = "unknown_host"
	ReasonAmbiguousPath  Reason = "ambiguous_path"
	ReasonPathNotUTF8    Reason = "path_not_utf8"
	ReasonMethodOverride Reason = "method_override"
	ReasonRateLimitStore Reason = "rate_limit_store"
	// The forward-auth endpoint's own refusals (authorizer.go).
	ReasonAuthorizerUntrustedPeer Reason = "authorizer_untrusted_peer"
	ReasonAuthorizerBadRequest    Reason = "authorizer_bad_request"

	// reasonPolicy prefixes policy's reason (policy_denied_by_rule, ...).
	reasonPolicy Reason = "policy_"
	// reasonRateLimited prefixes the tier (rate_limited_ip, ...).
	reasonRateLimited Reason = "rate_limited_"
)
