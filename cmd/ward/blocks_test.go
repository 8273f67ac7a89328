package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
)

// TestBlocksCommand: list prints the blocks in force; lift parses the
// address or key, lifts it and says so; bad input is refused before any
// store is opened.
func TestBlocksCommand(t *testing.T) {
	st := block.NewMemoryStore(0)
	p := block.Policy{Threshold: 1, Window: time.Minute, Period: time.Hour, MaxPeriod: time.Hour}
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	ctx := context.Background()
	for _, kv := range []struct {
		k block.Kind
		v string
	}{{block.Address, "203.0.113.5"}, {block.Address, "2001:db8::/64"}, {block.Key, jkt}} {
		if _, _, err := st.Strike(ctx, kv.k, kv.v, time.Now(), p); err != nil {
			t.Fatal(err)
		}
	}
	opened := 0
	old := blocksOpener
	blocksOpener = func(*config.Config) (block.Store, func(), error) { opened++; return st, func() {}, nil }
	t.Cleanup(func() { blocksOpener = old })
	dev := []string{"--dev", "--data", t.TempDir()}

	out, code := ward(t, append([]string{"blocks", "list"}, dev...)...)
	if code != 0 || !strings.HasPrefix(out, "KIND") || !strings.Contains(out, "203.0.113.5") || !strings.Contains(out, jkt) {
		t.Fatalf("list: %d %q", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--address", "2001:db8::1"}, "lifted the block of address 2001:db8::/64"},
		{[]string{"--key", jkt}, "lifted the block of key " + jkt},
		{[]string{"--address", "203.0.113.6"}, "address 203.0.113.6 was not blocked"},
	} {
		if out, code := ward(t, append(append([]string{"blocks", "lift"}, c.args...), dev...)...); code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("lift %v: %d %q, want %q", c.args, code, out, c.want)
		}
	}
	if bs, _ := st.List(ctx, time.Now()); len(bs) != 1 || bs[0].Value != "203.0.113.5" {
		t.Fatalf("after the lifts: %+v", bs)
	}
	// Each lift is a block_lifted event in the store; a lift of nothing
	// is none.
	out, _ = ward(t, append([]string{"events", "--type", "block_lifted"}, dev...)...)
	if strings.Count(out, "block_lifted") != 2 || !strings.Contains(out, "2001:db8::/64") || !strings.Contains(out, jkt) {
		t.Fatalf("events: %q", out)
	}
	n := opened
	for _, args := range [][]string{{"lift"}, {"lift", "--address", "x"}, {"lift", "--key", "short"},
		{"lift", "--address", "192.0.2.1", "--key", jkt}, {"lift", "--address", "10.0.0.0/8"}, {"unblock"}} {
		if _, code := ward(t, append(append([]string{"blocks"}, args...), dev...)...); code == 0 {
			t.Errorf("%v accepted", args)
		}
	}
	if opened != n {
		t.Error("bad input opened the store")
	}
}

// TestBlocksCommandWithoutRedis: blocks kept in a serving process's
// memory are out of the command's reach, and it says so.
func TestBlocksCommandWithoutRedis(t *testing.T) {
	out, code := ward(t, "blocks", "list", "--dev", "--data", t.TempDir())
	if code == 0 || !strings.Contains(out, "memory of the running ward serve") {
		t.Fatalf("%d %q", code, out)
	}
}
