package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
)

// Log is the log section: how much the process logs (docs/OBSERVABILITY.md).
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
}

// LogLevels are the values of log.level.
var LogLevels = []string{"debug", "info", "warn", "error"}

// SlogLevel is Level as a slog.Level (info when empty or unknown: Validate
// refuses an unknown level).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Tracing is the tracing section: OpenTelemetry spans exported over OTLP
// (HTTP), off by default (docs/OBSERVABILITY.md).
type Tracing struct {
	Enabled bool `yaml:"enabled"`
	// Endpoint is the OTLP/HTTP collector's base URL
	// (http://collector:4318); the exporter posts to its /v1/traces.
	Endpoint string `yaml:"endpoint"`
	// SampleRatio is the share of new traces recorded, 0 to 1 (default 1).
	SampleRatio Ratio `yaml:"sample_ratio"`
	// ServiceName is the service.name resource attribute (default ward).
	ServiceName string `yaml:"service_name"`
	// TrustIncoming continues a trace whose W3C traceparent the client
	// sent (a trusted front door that starts traces); otherwise the
	// client's traceparent and tracestate are dropped and Ward starts the
	// trace it hands to upstreams.
	TrustIncoming bool `yaml:"trust_incoming"`
}

// DefaultTracing is the tracing section's defaults: off.
func DefaultTracing() Tracing { return Tracing{SampleRatio: 1, ServiceName: "ward"} }

// Ratio is a number from 0 to 1, written as a decimal (0.1).
type Ratio float64

// UnmarshalText parses a decimal from 0 to 1.
func (r *Ratio) UnmarshalText(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	// !(0 <= f <= 1) refuses NaN too, which compares false both ways.
	if err != nil || !(f >= 0 && f <= 1) {
		return fmt.Errorf("not a number from 0 to 1")
	}
	*r = Ratio(f)
	return nil
}

func (v *validator) log() {
	if v.c.Log.Level != "" {
		v.oneOf("log.level", v.c.Log.Level, LogLevels...)
	}
}

func (v *validator) tracing() {
	t := v.c.Tracing
	if !t.Enabled {
		return
	}
	if t.Endpoint == "" {
		v.add("tracing.endpoint", ErrMissing, "required when tracing.enabled is true (the OTLP/HTTP collector, e.g. http://127.0.0.1:4318)")
	} else if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		v.add("tracing.endpoint", ErrInvalidValue, "%q is not an http or https URL without query, fragment or user information", t.Endpoint)
	}
	if t.ServiceName == "" {
		v.add("tracing.service_name", ErrMissing, "must not be empty (default \"ward\")")
	}
}
