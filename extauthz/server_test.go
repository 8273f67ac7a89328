package extauthz_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/gateway"
)

// TestResponseHeaders: a header with two values (a DPoP and a Bearer
// challenge) reaches the client with both: the first overwrites, the
// next appends.
func TestResponseHeaders(t *testing.T) {
	resp := extauthz.Response(&gateway.Decision{Status: 401, ContentType: "application/json", Body: []byte(`{}`),
		Header: http.Header{"Www-Authenticate": {`DPoP algs="ES256"`, `Bearer realm="api"`}}})
	hs := resp.GetDeniedResponse().GetHeaders()
	var got []string
	for _, h := range hs {
		if h.GetHeader().GetKey() == "www-authenticate" {
			got = append(got, h.GetAppendAction().String()+" "+h.GetHeader().GetValue())
		}
	}
	want := []string{`OVERWRITE_IF_EXISTS_OR_ADD DPoP algs="ES256"`, `APPEND_IF_EXISTS_OR_ADD Bearer realm="api"`}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated || resp.GetDeniedResponse().GetBody() != "{}" {
		t.Errorf("%v", resp)
	}
}

// TestResponseRemove: headers_to_remove never names a header Ward sets
// (Envoy removes after it sets) nor Envoy's own forwarding headers.
func TestResponseRemove(t *testing.T) {
	resp := extauthz.Response(&gateway.Decision{Allowed: true, Status: 200,
		Header: http.Header{"X-Ward-Subject": {"alice"}},
		Remove: []string{"X-Ward-Subject", "Authorization", "Dpop", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Envoy-Internal", "X_ward_client", "Authorization"}})
	got := resp.GetOkResponse().GetHeadersToRemove()
	want := []string{"authorization", "dpop", "x-forwarded-host", "x_ward_client"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

type panicky struct{}

func (panicky) Decide(*http.Request) *gateway.Decision { panic("boom") }

// TestCheckPanicDenies: a check that panics is a 500 denial, never a
// crash nor an RPC error (which failure_mode_allow could pass).
func TestCheckPanicDenies(t *testing.T) {
	s := extauthz.New(panicky{}, extauthz.Options{Logger: quiet})
	resp, err := s.Check(context.Background(), &authv3.CheckRequest{Attributes: attrs("GET", "https", "api.example", "/", nil)})
	if err != nil || resp.GetDeniedResponse().GetStatus().GetCode() != 500 || codes.Code(resp.GetStatus().GetCode()) == codes.OK {
		t.Fatalf("%v %v", resp, err)
	}
}
