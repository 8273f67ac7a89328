package redisstore_test

import (
	"log"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/store/redisstore"
)

// A gateway instance sharing its DPoP replay records with every other
// instance through one Redis. Fail closed (the default): when Redis is
// unreachable, proofs are refused with replay_store_error (HTTP 503).
func Example() {
	replay, err := redisstore.New(redisstore.Config{
		Addr:   "127.0.0.1:6379",
		Prefix: "ward:prod:",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer replay.Close()

	v, err := dpop.NewVerifier(dpop.WithReplayStore(replay))
	if err != nil {
		log.Fatal(err)
	}
	_ = v
}

// A replay store on a Sentinel-watched master, each record waiting for
// one replica (WAIT) so that a failover cannot forget it.
func ExampleNewClient() {
	cfg := redisstore.Config{Prefix: "ward:prod:", MinReplicas: 1}
	c := redisstore.NewClient(cfg, redisstore.Deployment{
		SentinelMaster: "ward",
		SentinelAddrs:  []string{"10.0.1.1:26379", "10.0.1.2:26379", "10.0.1.3:26379"},
	})
	defer c.Close()
	replay := redisstore.NewFromClient(c, cfg)

	v, err := dpop.NewVerifier(dpop.WithReplayStore(replay))
	if err != nil {
		log.Fatal(err)
	}
	_ = v
}
