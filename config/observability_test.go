package config_test

import (
	"log/slog"
	"math"
	"strconv"
	"testing"

	"github.com/wardauth/ward/config"
)

// TestLogLevel: log.level maps to slog's levels; empty is info.
func TestLogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got := (config.Log{Level: in}).SlogLevel(); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

// FuzzRatio: tracing.sample_ratio accepts exactly the decimals from 0 to
// 1, and keeps their value.
func FuzzRatio(f *testing.F) {
	for _, s := range []string{"0", "1", "0.1", "1.5", "-0", "NaN", "Inf", "1e-3", "0x1p-2", "", " 0.5", "1.0000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var r config.Ratio
		err := r.UnmarshalText([]byte(s))
		v, perr := strconv.ParseFloat(s, 64)
		ok := perr == nil && v >= 0 && v <= 1 && !math.IsNaN(v)
		if (err == nil) != ok {
			t.Fatalf("%q: err %v, want ok=%v", s, err, ok)
		}
		if ok && float64(r) != v {
			t.Fatalf("%q: %v, want %v", s, float64(r), v)
		}
	})
}
