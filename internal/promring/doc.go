// Package promring samples counters of a Prometheus registry into a
// bounded ring of time buckets, in process: the admin console's security
// overview (docs/CONSOLE.md) charts refusals by reason and accepted
// traffic by sender constraint from it without a Prometheus server.
//
// Each Sample gathers the registry, sums each tracked counter family by
// one label, and adds the increase since the previous sample to the
// bucket of the sample's time. The ring keeps a fixed number of buckets
// (24 hours of one-minute buckets by default) and a bounded number of
// series per family (the rest add up under "other"), so its memory is
// fixed whatever the traffic: about 11.5 KiB a series at the defaults.
//
// The figures are this process's own: in the scale-out shape each
// instance samples its own counters, and the fleet's view is Grafana's
// (packaging/grafana/ward.json), which sums every instance's /metrics.
package promring
