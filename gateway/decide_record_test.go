package gateway_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecideAndRecordCounts: a decision asked through DecideAndRecord is
// in the gateway's request metrics; one asked through Decide is not.
func TestDecideAndRecordCounts(t *testing.T) {
	e := newEnv(t, nil)
	e.gw.Decide(httptest.NewRequest("GET", publicURL+"/orders/1", nil))
	if strings.Contains(e.metrics(), `ward_gateway_requests_total{outcome="rejected",route="orders"}`) {
		t.Fatal("Decide counted")
	}
	d := e.gw.DecideAndRecord(httptest.NewRequest("GET", publicURL+"/orders/1", nil))
	if d.Status != 401 {
		t.Fatalf("%d", d.Status)
	}
	if !strings.Contains(e.metrics(), `ward_gateway_requests_total{outcome="rejected",route="orders"} 1`) {
		t.Errorf("not counted:\n%s", e.metrics())
	}
}
