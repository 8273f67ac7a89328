package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// One security event: what happened in plain words, its fields, and
// what Ward did as far as the store and the blocks record it.
func init() {
	Register(&Page{
		Name: "event", Title: "Security event",
		Template: eventTemplate,
		Routes: func(r Routes) {
			r.Get("/events/{id}", showEvent)
		},
	})
}

const eventTemplate = `{{define "content"}}{{with .Data}}
<p class="lead"><span class="sev sev-{{.Event.Severity}}">{{.Event.Severity}}</span> <strong>{{.Event.Type}}</strong> at {{.Event.When}}</p>
<section aria-labelledby="what"><h2 id="what">What happened</h2><p>{{.Happened}}</p></section>
<section aria-labelledby="did"><h2 id="did">What Ward did</h2><ul>{{range .Did}}<li>{{.}}</li>{{end}}</ul>
{{range .Blocks}}<form method="post" action="{{path "blocks" "lift"}}" class="inline" data-confirm="Lift the block of {{.Kind}} {{.Value}}?">
<input type="hidden" name="kind" value="{{.Kind}}"><input type="hidden" name="value" value="{{.Value}}">
<button type="submit">Lift the block of this {{.Kind}}</button></form>{{end}}</section>
<section aria-labelledby="fields"><h2 id="fields">Fields</h2>
<dl class="facts">
<dt>Event ID</dt><dd>{{.Event.ID}}</dd>
<dt>Time</dt><dd>{{.Event.When}}</dd>
<dt>Type</dt><dd><a href="{{path "events"}}?type={{.Event.Type}}">{{.Event.Type}}</a></dd>
<dt>Severity</dt><dd>{{.Event.Severity}}</dd>
<dt>Instance</dt><dd>{{or .Event.Instance "—"}}</dd>
<dt>Client</dt><dd>{{if .Event.ClientID}}<a href="{{path "events"}}?client={{.Event.ClientID}}">{{.Event.ClientID}}</a>{{else}}—{{end}}</dd>
<dt>Subject</dt><dd>{{if .Event.Subject}}<a href="{{path "events"}}?subject={{.Event.Subject}}">{{.Event.Subject}}</a>{{else}}—{{end}}</dd>
<dt>Key thumbprint (jkt)</dt><dd>{{if .Event.JKT}}<code>{{.Event.JKT}}</code>{{else}}—{{end}}</dd>
<dt>Grant family</dt><dd>{{if .Event.FamilyID}}<code>{{.Event.FamilyID}}</code>{{else}}—{{end}}</dd>
<dt>Client address</dt><dd>{{or .Event.ClientAddr "—"}}</dd>
<dt>Route</dt><dd>{{or .Event.Route "—"}}</dd>
<dt>Reason</dt><dd>{{or .Event.Reason "—"}}</dd>
<dt>Kept until</dt><dd>{{.Expires}}</dd>
</dl></section>
<p><a href="{{path "events"}}">All events</a></p>
{{end}}{{end}}`

type eventView struct {
	Event    eventRow
	Happened string
	Did      []string
	Blocks   []block.Block
	Expires  string
}

func showEvent(c *Call) error {
	id, err := strconv.ParseInt(c.R.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &Problem{Status: http.StatusNotFound, Message: "No such event."}
	}
	e, err := c.Store().GetEvent(c.R.Context(), id)
	if err != nil {
		return err
	}
	v := eventView{Event: rowOf(e), Happened: happened(e), Did: did(e), Expires: when(e.Expires)}
	v.Did = append(v.Did, c.familyFate(e)...)
	blocks, notes := c.blocksOf(e)
	v.Blocks, v.Did = blocks, append(v.Did, notes...)
	return c.Render(http.StatusOK, v)
}

// happened tells in plain words what an event of e's type means.
func happened(e store.SecurityEvent) string {
	switch secevent.Type(e.Type) {
	case secevent.TokenLeaked:
		return "A sender-constrained access token was presented without its key: as a Bearer token, or with a DPoP proof made by another key. Whoever presented it holds a token that is not theirs: the token has leaked."
	case secevent.RefreshReplayed:
		return "A refresh token that had already been exchanged was presented again, or presented without the family's key. Two parties hold the same refresh token: one of them stole it."
	case secevent.CodeReplayed:
		return "An authorization code was redeemed a second time. Codes are single-use: someone intercepted it or a client retried wrongly."
	case secevent.ProofReplayed:
		return "A DPoP proof was presented that had been seen before. A client retrying after a network error does this; so does an attacker replaying a captured request."
	case secevent.NonceFailure:
		return "A DPoP proof carried a stale or foreign server nonce. This is part of the normal nonce round trip; many of them from one client point at a broken client."
	case secevent.LoginFailed:
		return "A sign-in failed: a wrong username or password. The username is not recorded: people type their password into it."
	case secevent.AccountLocked:
		return "Failed sign-ins reached the limit: further sign-ins of the account or from the address are backed off."
	case secevent.PolicyDenied:
		return "A route's policy refused a caller whose token was valid."
	case secevent.CertFailed:
		return "A client certificate could not be used, or a certificate-bound token came over another certificate (a renewed certificate does that)."
	case secevent.RateLimited:
		return "A rate limit refused a request."
	case secevent.AddressBlocked, secevent.KeyBlocked:
		return "Invalid credentials kept coming from one address or DPoP key within the window: it was blocked for a period that doubles on each repeat."
	case secevent.BlockLifted:
		return "A block of an address or key was lifted before it ended."
	case secevent.ConsentGranted, secevent.ConsentRevoked:
		return "A user granted or revoked a client's access (the scopes are in the reason)."
	case secevent.ClientChanged, secevent.UserChanged, secevent.KeyChanged:
		return "An operator changed a client, a user or the signing keys."
	}
	return "An event of a type this console does not describe."
}

// did is what Ward does for every event of e's type.
func did(e store.SecurityEvent) []string {
	switch secevent.Type(e.Type) {
	case secevent.TokenLeaked, secevent.PolicyDenied, secevent.CertFailed, secevent.ProofReplayed:
		return []string{"Refused the request."}
	case secevent.RefreshReplayed:
		return []string{"Refused the refresh token and revoked its whole grant family (RFC 9700 §4.14.2)."}
	case secevent.CodeReplayed:
		return []string{"Refused the code and revoked the tokens issued with it (RFC 9700 §4.5)."}
	case secevent.NonceFailure:
		return []string{"Answered with a fresh nonce (use_dpop_nonce); the client retries with it."}
	case secevent.LoginFailed:
		return []string{"Refused the sign-in."}
	case secevent.AccountLocked:
		return []string{"Backed off further sign-ins (rate_limits.login_failures)."}
	case secevent.RateLimited:
		return []string{"Answered 429 with Retry-After."}
	}
	return []string{"Recorded the event."}
}

// familyFate reports the grant family the event names, as the store has
// it now: revoked (when, why), live, or gone.
func (c *Call) familyFate(e store.SecurityEvent) []string {
	if e.FamilyID == "" || e.FamilyID == secevent.Redacted {
		return nil
	}
	fam, err := c.Store().GetFamily(c.R.Context(), e.FamilyID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return []string{"The grant family is no longer stored (expired and swept, or never Ward's)."}
	case err != nil:
		return []string{"The grant family could not be read: the store did not answer."}
	case !fam.RevokedAt.IsZero():
		return []string{fmt.Sprintf("Revoked the grant family at %s (reason %s): its refresh token is refused and every gateway refuses its access tokens; the client signs in again.",
			when(fam.RevokedAt), fam.RevokedReason)}
	case secevent.Type(e.Type) == secevent.TokenLeaked:
		return []string{"The grant family is still live: the response events.responses.token_leaked.revoke_family is off, or runs in another process."}
	}
	return []string{"The grant family is live."}
}

// blocksOf returns the blocks in force on the event's address and key,
// and a line for each.
func (c *Call) blocksOf(e store.SecurityEvent) ([]block.Block, []string) {
	adm := c.api.o.Blocks
	if adm == nil || (e.ClientAddr == "" && e.JKT == "") {
		return nil, nil
	}
	all, err := adm.List(c.R.Context())
	if err != nil {
		return nil, []string{"The blocks could not be read: their store did not answer."}
	}
	var out []block.Block
	var notes []string
	for _, b := range all {
		if matches(b, e) {
			out = append(out, b)
			notes = append(notes, fmt.Sprintf("The %s %s is blocked until %s (offence %d).", b.Kind, b.Value, when(b.Until), b.Offences))
		}
	}
	return out, notes
}

// matches reports whether block b names e's address (by its block key:
// an IPv6 address by its /64) or key.
func matches(b block.Block, e store.SecurityEvent) bool {
	switch b.Kind {
	case block.Key:
		return e.JKT != "" && b.Value == e.JKT
	case block.Address:
		v, err := block.ParseAddress(e.ClientAddr)
		return err == nil && v == b.Value
	}
	return false
}
