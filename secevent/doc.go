// Package secevent is Ward's security event model: one [Event] for
// everything security-relevant (a leaked token, a replayed refresh token or
// code, a failed login, ...), and the [Emitter] that hands events to sinks
// (the structured log, the store) from a bounded queue that never blocks a
// request: when the queue is full an event is dropped and counted
// (ward_security_events_dropped_total).
//
// An event names who and what (client, subject, key thumbprint, token
// family, address, route, reason) but never carries a token or a secret:
// [Event.Sanitize] strips any field that looks like a JWT or an opaque
// token, and the Emitter sanitizes every event it queues.
//
// Responses (docs/EVENTS.md) are sinks too: [RevokeFamily] revokes the
// family of a leaked token.
//
// A gateway-only process has no store: its [Pusher] sends each event as a
// Security Event Token (RFC 8417, [SETSigner]) to the authorization
// server (RFC 8935), whose [SETReceiver] verifies it against the sender's
// configured keys before [Emitter.Deliver] writes it through the same
// sinks as a local event.
//
// A [Webhook] is a sink with its own bounded queue and worker that POSTs
// each event it takes as JSON signed as Standard Webhooks has it
// (webhook-id, webhook-timestamp, webhook-signature "v1,"), retried with
// a capped, jittered backoff, under its own rate limit, never following
// a redirect. A receiver checks a delivery with [VerifyWebhook].
package secevent
