package authz

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/secevent"
)

// PathEventsPush is where gateway-only processes push their security
// events as SETs (RFC 8935), when events.receive.enabled.
const PathEventsPush = "/events/push"

// endpointEventsPush names /events/push in rate limits and metrics.
const endpointEventsPush = "events_push"

// newEventsPush builds the SET receiver of events.receive: each sender's
// public keys, read from its public_key_file.
func (s *Server) newEventsPush() (*secevent.SETReceiver, error) {
	rc := s.cfg.Events.Receive
	if !rc.Enabled {
		return nil, nil
	}
	recv := &secevent.SETReceiver{Audience: s.issuer, MaxAge: rc.MaxAge, Now: s.now,
		Senders: map[string][]*ecdsa.PublicKey{}}
	for i, snd := range rc.Senders {
		keys, err := secevent.LoadSETPublicKeys(snd.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: events.receive.senders[%d].public_key_file: %w", ErrConfig, i, err)
		}
		recv.Senders[snd.Issuer] = keys
	}
	return recv, nil
}

// handleEventsPush receives one pushed SET (RFC 8935 §2): it
// authenticates the sender by the SET's signature, refuses a jti seen
// before, keeps a family only of a token this server issued, and writes
// the event through the pipeline (stored; token_leaked revokes the
// family) before it answers 202, so the sender retries what failed.
func (s *Server) handleEventsPush(w http.ResponseWriter, r *http.Request) {
	if !s.allowEventsPush(w, r) {
		return
	}
	set, err := readSET(w, r)
	if err != nil {
		s.refuseSET(w, r, err)
		return
	}
	got, err := s.eventsPush.Verify(set)
	if err != nil {
		s.refuseSET(w, r, err)
		return
	}
	if err := s.useSETID(r.Context(), got); err != nil {
		s.refuseSET(w, r, err)
		return
	}
	ev := got.Event
	if got.TokenIssuer != s.issuer {
		ev.FamilyID = "" // not a family of ours: revoke nothing
	}
	if err := s.opts.Events.Deliver(r.Context(), ev); err != nil {
		s.log.Error("authz: a pushed security event could not be written", "sender", got.Issuer, "err", err)
		w.Header().Set("Retry-After", "1")
		writeSETError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the event could not be written")
		return
	}
	w.WriteHeader(http.StatusAccepted) // RFC 8935 §2.2
}

// allowEventsPush takes one request of the address's allowance
// (rate_limits.events_push.ip) before the body is read or any ES256
// verification: a flood of forged SETs costs no signature check. Refusals
// are in the RFC 8935 §2.3 error format: 429 with Retry-After, or 503 when
// the store cannot answer (fail closed).
func (s *Server) allowEventsPush(w http.ResponseWriter, r *http.Request) bool {
	lim := s.limits.eventsPush.ip
	res, err := s.take(w, r, lim, endpointEventsPush, s.limits.clientIP(r))
	switch {
	case err != nil:
		w.Header().Set("Retry-After", "1")
		writeSETError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "try again")
		return false
	case !res.Allowed:
		w.Header().Set("Retry-After", strconv.Itoa(res.RetryAfterSeconds()))
		writeSETError(w, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf("too many requests; try again in %d seconds", res.RetryAfterSeconds()))
		return false
	}
	return true
}

// readSET reads the request body: application/secevent+jwt, at most
// secevent.MaxSETBytes.
func readSET(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := secevent.CheckSETMediaType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, secevent.MaxSETBytes+1))
	if err != nil || len(body) > secevent.MaxSETBytes {
		return nil, &secevent.SETError{Code: secevent.ErrInvalidRequest, Description: "the request body is too large"}
	}
	return body, nil
}

// useSETID records the SET's jti for its sender: a SET is accepted once
// (RFC 8417 §2.2 jti; in the shared replay store, so across instances).
func (s *Server) useSETID(ctx context.Context, got *secevent.Received) error {
	err := s.opts.Replay.Use(ctx, "set:"+got.Issuer, got.ID, got.Expires)
	if errors.Is(err, dpop.ErrSeen) {
		return &secevent.SETError{Code: secevent.ErrInvalidRequest, Description: "the SET's jti was seen before"}
	}
	return err
}

// refuseSET answers an RFC 8935 §2.3 error: 400 with err and description
// for a refused SET, 503 when the jti could not be recorded.
func (s *Server) refuseSET(w http.ResponseWriter, r *http.Request, err error) {
	var se *secevent.SETError
	if !errors.As(err, &se) {
		s.log.Error("authz: cannot record a pushed SET's jti", "err", err)
		w.Header().Set("Retry-After", "1")
		writeSETError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "try again")
		return
	}
	s.logRefusal(r, slog.LevelWarn, "pushed security event refused", se.Code, "description", se.Description)
	writeSETError(w, http.StatusBadRequest, se.Code, se.Description)
}

func writeSETError(w http.ResponseWriter, status int, code, desc string) {
	body, _ := json.Marshal(struct {
		Err         string `json:"err"`
		Description string `json:"description"`
	}{code, desc})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
