package secevent_test

import (
	"context"
	"log/slog"
	"os"
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
