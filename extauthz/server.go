package extauthz

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/oauth"
)

// Decider decides one request; *gateway.Gateway is one.
type Decider interface {
	Decide(r *http.Request) *gateway.Decision
}

// DeciderFunc adapts a function to Decider, such as the gateway's
// DecideAndRecord, which also counts the request in the gateway's
// metrics (what `ward serve` uses).
type DeciderFunc func(r *http.Request) *gateway.Decision

// Decide calls f.
func (f DeciderFunc) Decide(r *http.Request) *gateway.Decision { return f(r) }

var _ Decider = (*gateway.Gateway)(nil)

// Options of a Server.
type Options struct {
	// MaxHeaderBytes bounds a CheckRequest's headers; default
	// DefaultMaxHeaderBytes (pass gateway.limits.max_header_bytes).
	MaxHeaderBytes int
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Server answers Envoy's Authorization/Check with a Decider's decisions.
// It is safe for concurrent use.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	d   Decider
	max int
	log *slog.Logger
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// New returns a Server asking d.
func New(d Decider, o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return &Server{d: d, max: o.MaxHeaderBytes, log: o.Logger}
}

// Check maps the request, decides and answers. It always answers with a
// CheckResponse and never with an RPC error: an RPC error is Envoy's
// failure_mode_allow case, and a refusal must stay a refusal.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (resp *authv3.CheckResponse, _ error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("ext_authz check panicked", "panic", v, "stack", string(debug.Stack()))
			resp = refusal(http.StatusInternalServerError, oauth.New(oauth.ServerError, "internal error"))
		}
	}()
	r, err := Request(req.GetAttributes(), s.max)
	if err != nil {
		s.log.Warn("ext_authz request refused: malformed attributes", "err", err)
		return refusal(http.StatusBadRequest, &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusBadRequest,
			Reason: "ext_authz_attributes", Description: "the proxy described the request in a way that cannot be checked", Err: err}), nil
	}
	// Envoy's deadline bounds the store calls of the checks (replay,
	// rate limits).
	return Response(s.d.Decide(r.WithContext(ctx))), nil
}

// Response renders a decision as Envoy's CheckResponse (envoy.service.
// auth.v3): status OK with an OkHttpResponse, or another status with a
// DeniedHttpResponse. Envoy takes the answer from status.code (OK
// allows, anything else denies) and sends the client the denied
// response's status, headers and body.
func Response(d *gateway.Decision) *authv3.CheckResponse {
	if d.Allowed {
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				Headers:              headerOptions(d.Header),
				HeadersToRemove:      toRemove(d.Remove, d.Header),
				ResponseHeadersToAdd: headerOptions(d.ResponseHeader),
			}},
		}
	}
	h := d.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if d.ContentType != "" {
		h.Set("Content-Type", d.ContentType)
	}
	code := codes.PermissionDenied
	if d.Status == http.StatusUnauthorized {
		code = codes.Unauthenticated
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: d.Reason},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(d.Status)},
			Headers: headerOptions(h),
			Body:    string(d.Body),
		}},
	}
}

// refusal renders an error of the adapter's own as the gateway renders
// its refusals (oauth.WriteJSON, the one place).
func refusal(status int, e *oauth.Error) *authv3.CheckResponse {
	w := httptest.NewRecorder()
	oauth.WriteJSON(w, e)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	return Response(&gateway.Decision{Status: status, Header: h, Body: w.Body.Bytes(), Reason: e.Reason})
}

// headerOptions lists h sorted by name, lower-case as HTTP/2 sends
// them. A header's first value overwrites any the request (or reply)
// has, the next ones are appended, so Envoy ends with exactly h's
// values.
func headerOptions(h http.Header) []*corev3.HeaderValueOption {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []*corev3.HeaderValueOption
	for _, k := range names {
		for i, v := range h[k] {
			action := corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
			if i > 0 {
				action = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
			}
			out = append(out, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: strings.ToLower(k), Value: v},
				AppendAction: action,
			})
		}
	}
	return out
}

// toRemove lists the names the upstream must not receive from the
// client, but those set (Envoy removes after it sets, and the set value
// already replaces the client's) and those Envoy itself manages: it
// appends the client's address to X-Forwarded-For and sets
// X-Forwarded-Proto before ext_authz runs (use_remote_address: true at
// the edge, docs/INTEGRATIONS.md), and strips x-envoy-* from external
// clients.
func toRemove(remove []string, set http.Header) []string {
	out := make([]string, 0, len(remove))
	for _, k := range remove {
		if _, ok := set[http.CanonicalHeaderKey(k)]; ok {
			continue
		}
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, ":") || lk == "host" || lk == "x-forwarded-for" || lk == "x-forwarded-proto" || strings.HasPrefix(lk, "x-envoy-") {
			continue
		}
		out = append(out, lk)
	}
	sort.Strings(out)
	return slices.Compact(out)
}
