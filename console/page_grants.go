package console

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// The grants and sessions page: a user's (or a client's) grants — refresh
// token families — and a user's login sessions, each revocable.
func init() {
	Register(&Page{
		Name: "grants", Title: "Grants and sessions", Nav: 40,
		Template: grantsTemplate,
		Routes: func(r Routes) {
			r.Get("/grants", findGrants)
			r.Post("/grants/{id}/revoke", revokeGrant)
			r.Post("/sessions/{sub}/{sid}/end", endSession)
			r.Post("/sessions/{sub}/end", endAllSessions)
		},
	})
}

const grantsTemplate = `{{define "content"}}{{with .Data}}
<form class="search" method="get" action="{{path "grants"}}" role="search">
  <label for="g-user">User</label><input type="search" id="g-user" name="user" value="{{.UserQ}}" placeholder="username or subject">
  <label for="g-client">Client</label><input type="search" id="g-client" name="client" value="{{.ClientQ}}" placeholder="client id">
  <button type="submit">Find</button>
</form>
{{if .Searched}}
<h2>Grants</h2>
<div class="table-wrap"><table>
<caption class="muted">{{len .Grants}} grant(s){{if .More}}, the first {{len .Grants}} shown{{end}}</caption>
<thead><tr><th scope="col">Grant</th><th scope="col">User</th><th scope="col">Client</th><th scope="col">Scope</th><th scope="col">Bound to</th><th scope="col">Created</th><th scope="col">State</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>{{range .Grants}}<tr>
  <td><code>{{.ID}}</code></td><td><code>{{.Subject}}</code></td><td><code>{{.ClientID}}</code></td><td>{{.Scope}}</td>
  <td>{{if .JKT}}DPoP key{{else if .CertThumbprint}}certificate{{else}}—{{end}}</td><td>{{time .CreatedAt}}</td>
  <td>{{if .Revoked}}<span class="tag bad">revoked ({{.RevokedReason}})</span>{{else}}<span class="tag">live until {{time .ExpiresAt}}</span>{{end}}</td>
  <td>{{if not .Revoked}}<form class="inline" method="post" action="{{path "grants" .ID "revoke"}}" data-confirm="Revoke this grant? Its refresh and access tokens stop working.">
    <input type="hidden" name="back" value="{{$.Data.Back}}"><button type="submit" class="danger">Revoke</button></form>{{end}}</td>
</tr>{{else}}<tr><td colspan="8">No grant.</td></tr>{{end}}</tbody>
</table></div>
{{if .User}}
<h2>Login sessions of {{.User.Username}}</h2>
<div class="table-wrap"><table>
<caption class="muted">{{len .Sessions}} live session(s)</caption>
<thead><tr><th scope="col">Session (sid)</th><th scope="col">Signed in</th><th scope="col">Ends</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>{{range .Sessions}}<tr>
  <td><code>{{.SID}}</code></td><td>{{time .AuthTime}}</td><td>{{time .ExpiresAt}}</td>
  <td><form class="inline" method="post" action="{{path "sessions" $.Data.User.Subject .SID "end"}}" data-confirm="End this session?">
    <input type="hidden" name="back" value="{{$.Data.Back}}"><button type="submit" class="danger">End</button></form></td>
</tr>{{else}}<tr><td colspan="4">No live session.</td></tr>{{end}}</tbody>
</table></div>
{{if .Sessions}}<form method="post" action="{{path "sessions" .User.Subject "end"}}" data-confirm="End every session of {{.User.Username}}?">
  <input type="hidden" name="back" value="{{.Back}}"><button type="submit" class="danger">End all sessions of {{.User.Username}}</button></form>{{end}}
{{end}}
{{else}}<p class="muted">Give a user, a client, or both.</p>{{end}}
{{end}}{{end}}`

// maxScanUsers bounds the users a search by client alone looks through
// (the store lists grants by user).
const maxScanUsers = 5000

type grantsView struct {
	UserQ, ClientQ string
	Searched, More bool
	User           *store.User
	Grants         []*store.Family
	Sessions       []*store.Session
	Back           string // the search, to show again after an action
}

func findGrants(c *Call) error {
	q := c.R.URL.Query()
	return c.Render(http.StatusOK, grantsFor(c, q.Get("user"), q.Get("client")))
}

// grantsFor finds the grants of a user (by username or subject), of a
// client, or of both.
func grantsFor(c *Call, userQ, clientQ string) (v grantsView) {
	v = grantsView{UserQ: userQ, ClientQ: clientQ, Searched: userQ != "" || clientQ != ""}
	v.Back = url.Values{"user": {userQ}, "client": {clientQ}}.Encode()
	ctx := c.R.Context()
	var subjects []string
	switch {
	case userQ != "":
		u, err := c.Store().GetUserByUsername(ctx, userQ)
		if err != nil {
			u, err = c.Store().GetUser(ctx, userQ)
		}
		if err != nil {
			return v
		}
		v.User, subjects = u, []string{u.Subject}
		v.Sessions, _ = c.Store().ListSessions(ctx, u.Subject, c.Now())
	case clientQ != "":
		users, err := c.Store().ListUsers(ctx)
		if err != nil {
			return v
		}
		for i, u := range users {
			if i == maxScanUsers {
				v.More = true
				break
			}
			subjects = append(subjects, u.Subject)
		}
	}
	for _, sub := range subjects {
		fams, err := c.Store().ListFamilies(ctx, sub)
		if err != nil {
			continue
		}
		for _, f := range fams {
			if clientQ == "" || f.ClientID == clientQ {
				v.Grants = append(v.Grants, f)
			}
		}
		if len(v.Grants) >= maxListed {
			v.More = true
			break
		}
	}
	slices.SortFunc(v.Grants, func(a, b *store.Family) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return v
}

// again shows the search the operator came from (the form's back).
func again(c *Call) error {
	q, _ := parseBack(c.Form("back"))
	v := grantsFor(c, q[0], q[1])
	c.W.Header().Set("X-Console-Location", c.api.path("grants")+"?"+v.Back)
	return c.Render(http.StatusOK, v)
}

func parseBack(s string) ([2]string, error) {
	var out [2]string
	vals, err := parseQuery(s)
	if err != nil {
		return out, err
	}
	return [2]string{vals.Get("user"), vals.Get("client")}, nil
}

func revokeGrant(c *Call) error {
	ctx := c.R.Context()
	f, err := c.Store().GetFamily(ctx, c.R.PathValue("id"))
	if err != nil {
		return err
	}
	if err := c.Store().RevokeFamily(ctx, f.ID, "revoked_by_admin", c.Now()); err != nil {
		return err
	}
	c.Event(secevent.UserChanged, secevent.Event{Subject: f.Subject, ClientID: f.ClientID, FamilyID: f.ID, Reason: "grant_revoked"})
	c.Notice("Grant %s revoked: its refresh and access tokens no longer work.", f.ID)
	return again(c)
}

func endSession(c *Call) error {
	sub, sid := c.R.PathValue("sub"), c.R.PathValue("sid")
	ok, err := authz.EndSessionBySID(c.R.Context(), c.Store(), sub, sid, c.Now())
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	c.Event(secevent.UserChanged, secevent.Event{Subject: sub, Reason: "session_ended"})
	c.Notice("Session ended.")
	return again(c)
}

func endAllSessions(c *Call) error {
	sub := c.R.PathValue("sub")
	if _, err := c.Store().GetUser(c.R.Context(), sub); err != nil {
		return err
	}
	n, err := authz.EndUserSessions(c.R.Context(), c.Store(), sub, c.Now())
	if err != nil {
		return err
	}
	c.Event(secevent.UserChanged, secevent.Event{Subject: sub, Reason: "sessions_ended"})
	c.Notice("%d session(s) ended.", n)
	return again(c)
}
