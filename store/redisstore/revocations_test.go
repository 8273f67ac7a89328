package redisstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store/redisstore"
)

// TestRevocationWakeups: a revocation published by one store wakes the
// subscribers of another on the same prefix, and not those of another
// prefix.
func TestRevocationWakeups(t *testing.T) {
	_, _, prefix := wardtest.Redis(t, "rs")
	pub, _ := newStore(t, redisstore.Config{Prefix: prefix})
	sub, _ := newStore(t, redisstore.Config{Prefix: prefix})
	other, _ := newStore(t, redisstore.Config{})
	var woken, strangers atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { sub.RevocationWakeups(ctx, func() { woken.Add(1) }); done <- struct{}{} }()
	go func() { other.RevocationWakeups(ctx, func() { strangers.Add(1) }); done <- struct{}{} }()
	// The subscription is made in the background: publish until heard.
	deadline := time.Now().Add(10 * time.Second)
	for woken.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no wake-up within 10s")
		}
		if err := pub.PublishRevocation(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	<-done
	if strangers.Load() != 0 {
		t.Fatal("a subscriber under another prefix was woken")
	}
}
