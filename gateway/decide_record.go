package gateway

import (
	"net/http"
	"time"
)

// DecideAndRecord is Decide for a front door outside this package (the
// ext_authz server): the request is also counted in
// ward_gateway_requests_total and ward_gateway_request_duration_seconds
// by route and outcome, logged at debug level, and added to the span in
// r's context (named "ext_authz <route>"), as the reverse proxy's and the
// forward-auth endpoint's requests are.
func (g *Gateway) DecideAndRecord(r *http.Request) *Decision {
	start := time.Now()
	d, rec := g.decideValue(r)
	took := time.Since(start)
	g.metrics.observe(rec, took)
	g.logRequest(r, rec, d.Status, took)
	annotateDecision(r, rec, d.Status, doorExtAuthz) // tracing.go
	return d
}
