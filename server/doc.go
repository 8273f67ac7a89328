// Package server runs what `ward serve` runs, from one validated
// configuration (config.Config): the authorization server (store, signing
// keys, mTLS), the gateway (BFF sites, revocation feed, forward-auth and
// ext_authz front doors, configuration reload) and the Redis client they
// share, each only when configured.
//
// New opens everything and listens on every address before anything is
// served, so a taken port fails the start instead of leaving half a
// system running; Banner says what is served where; Serve runs every
// server and background task in one errgroup until its context ends or
// one of them fails, then drains them; Close releases the store and
// Redis:
//
//	s, err := server.New(ctx, cfg, server.Options{Logger: logger})
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	s.Banner(os.Stdout)
//	return s.Serve(ctx)
//
// cmd/ward is this package's caller: it parses flags, loads the
// configuration and prints. The admin commands open the same store and
// keys through OpenStore and OpenKeys.
package server
