package block_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/wardauth/ward/block"
)

// An address that sends three forged proof signatures within a minute is
// blocked for a minute; stray errors of a legitimate client (a stale
// nonce, a skewed clock, a retried proof) never count. An admin lifts the
// block.
func Example() {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	b, _ := block.New(block.Options{
		Config: block.Config{Address: block.Policy{Threshold: 3, Window: time.Minute, Period: time.Minute, MaxPeriod: time.Hour}},
		Clock:  func() time.Time { return now },
	})
	ctx := context.Background()
	addr := netip.MustParseAddr("203.0.113.5")
	for _, reason := range []string{"nonce_invalid", "iat_too_old", "replayed", "replayed"} {
		b.Strike(ctx, block.Offence{Addr: addr, Reason: reason})
	}
	_, blocked := b.Check(ctx, addr, "")
	fmt.Println("after stray errors:", blocked)
	for range 3 {
		b.Strike(ctx, block.Offence{Addr: addr, Reason: "bad_signature"})
	}
	blk, blocked := b.Check(ctx, addr, "")
	fmt.Println("after forged signatures:", blocked, blk.RetryAfter(now), "s")
	bs, _ := b.List(ctx)
	fmt.Println(bs[0].Kind, bs[0].Value)
	lifted, _ := b.Lift(ctx, block.Address, "203.0.113.5")
	_, blocked = b.Check(ctx, addr, "")
	fmt.Println("lifted:", lifted, "blocked:", blocked)
	// Output:
	// after stray errors: false
	// after forged signatures: true 60 s
	// address 203.0.113.5
	// lifted: true blocked: false
}
