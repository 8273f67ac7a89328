package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wardauth/ward/ratelimit"
)

func Example() {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	// 60 requests a minute, at most 3 at once.
	l, err := ratelimit.New(ratelimit.NewMemoryStore(0), ratelimit.Limit{Rate: 60, Period: time.Minute, Burst: 3},
		ratelimit.WithClock(clock), ratelimit.WithName("ip"))
	if err != nil {
		panic(err)
	}
	for range 4 {
		r, _ := l.Allow(context.Background(), "203.0.113.7")
		h := http.Header{}
		ratelimit.SetHeaders(h, l.Name(), r)
		fmt.Printf("%v %d %s retry-after=%q\n", r.Allowed, r.Remaining, h.Get("RateLimit"), h.Get("Retry-After"))
	}
	// Output:
	// true 2 "ip";r=2;t=1 retry-after=""
	// true 1 "ip";r=1;t=2 retry-after=""
	// true 0 "ip";r=0;t=3 retry-after=""
	// false 0 "ip";r=0;t=3 retry-after="1"
}
