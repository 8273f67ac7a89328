package secevent_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wardauth/ward/secevent"
)

func Example() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "at" {
				return slog.Attr{}
			}
			return a
		}}))
	em := secevent.NewEmitter(secevent.Options{
		Sinks:    []secevent.Sink{secevent.LogSink{Logger: logger}},
		Instance: "ward-0",
		Clock:    func() time.Time { return time.Unix(0, 0) },
	})
	em.Emit(secevent.Event{Type: secevent.TokenLeaked, ClientID: "app", Subject: "alice",
		JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", Reason: "dpop_token_as_bearer"})
	ctx, stop := context.WithCancel(context.Background())
	stop()
	_ = em.Run(ctx) // writes what is queued, then returns
	// Output:
	// level=WARN msg="security event" event_type=token_leaked severity=critical instance=ward-0 client_id=app sub=alice jkt=0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I reason=dpop_token_as_bearer
}

// A receiver checks each delivery before it trusts the body: the raw
// body, the three webhook-* headers, the shared "whsec_" secret, and a
// tolerance on the timestamp that stops a captured delivery being
// replayed later.
func ExampleVerifyWebhook() {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := secevent.VerifyWebhook(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized) // 4xx: Ward does not retry
			return
		}
		// Also refuse a webhook-id seen before (a retry repeats it).
		fmt.Printf("verified %s\n", body)
	})
	// A forged delivery: right headers, no valid signature.
	r := httptest.NewRequest("POST", "/ward-events", strings.NewReader(`{"type":"token_leaked"}`))
	r.Header.Set("webhook-id", "evt_1")
	r.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	r.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output:
	// 401
}

// A webhook is a sink of the emitter: it signs each event it takes and
// POSTs it from its own queue and worker.
func ExampleNewWebhook() {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := secevent.VerifyWebhook(secret, r.Header, body, time.Now(), time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Printf("verified %s\n", body)
	}))
	defer receiver.Close()
	key, _ := secevent.ParseWebhookSecret(secret)
	hook, err := secevent.NewWebhook(secevent.WebhookOptions{Name: "siem", URL: receiver.URL, Keys: [][]byte{key}})
	if err != nil {
		panic(err)
	}
	em := secevent.NewEmitter(secevent.Options{Sinks: []secevent.Sink{hook}, Instance: "ward-0",
		Clock: func() time.Time { return time.Unix(1800000000, 0) }})
	em.Emit(secevent.Event{Type: secevent.TokenLeaked, ClientID: "app", Reason: "jkt_mismatch"})
	ctx, stop := context.WithCancel(context.Background())
	stop()
	_ = em.Run(ctx)   // hands the event to the webhook's queue
	_ = hook.Run(ctx) // delivers what is queued (within its drain bound)
	// Output:
	// verified {"type":"token_leaked","timestamp":"2027-01-15T08:00:00Z","data":{"severity":"critical","instance":"ward-0","client_id":"app","reason":"jkt_mismatch"}}
}
