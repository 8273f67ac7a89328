package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/console"
	"github.com/wardauth/ward/internal/promring"
)

// consoleTraffic is the sampler of this process's counters behind the
// console's security overview (refusals by reason, accepted requests and
// tokens by sender constraint): one-minute buckets over 24 hours, per
// instance (docs/CONSOLE.md). nil when the console is off.
func consoleTraffic(cfg *config.Config, reg *prometheus.Registry) *promring.Ring {
	if !cfg.Console.Enabled || reg == nil {
		return nil
	}
	return promring.New(promring.Options{Gatherer: reg, Tracks: console.TrafficTracks})
}
