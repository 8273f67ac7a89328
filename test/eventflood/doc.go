// Package eventflood measures the security-event pipeline under a flood
// (issue 20's figure): 100,000 refused requests through a real gateway,
// each a leaked token (token_leaked), with a webhook receiving the
// events. It reports the heap's growth and the webhook's deliveries a
// second against its max_rate, and fails past the bounds. Skipped with
// -short.
package eventflood
