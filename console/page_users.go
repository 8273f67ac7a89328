package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// The users page: find, create, reset a password (a new one, shown
// once), unlock an account locked by failed logins, give or take the
// admin role.
func init() {
	Register(&Page{
		Name: "users", Title: "Users", Nav: 20,
		Template: usersTemplate,
		Routes: func(r Routes) {
			r.Get("/users", listUsers)
			r.Post("/users", createUser)
			r.Get("/users/{sub}", showUser)
			r.Post("/users/{sub}/password", resetPassword)
			r.Post("/users/{sub}/unlock", unlockUser)
			r.Post("/users/{sub}/role", setRole)
		},
	})
}

const usersTemplate = `{{define "content"}}{{with .Data}}{{if .User}}{{template "user" .}}{{else}}{{template "list" .}}{{end}}{{end}}{{end}}

{{define "list"}}
<form class="search" method="get" action="{{path "users"}}" role="search">
  <label for="user-q">Find a user</label>
  <input type="search" id="user-q" name="q" value="{{.Query}}" placeholder="username, subject, name or email">
  <button type="submit">Search</button>
</form>
<div class="table-wrap"><table>
<caption class="muted">{{len .Users}} user(s){{if .More}}, the first {{len .Users}} shown: narrow the search{{end}}</caption>
<thead><tr><th scope="col">Username</th><th scope="col">Name</th><th scope="col">Subject</th><th scope="col">Roles</th><th scope="col">Sign-in</th></tr></thead>
<tbody>{{range .Users}}<tr>
  <td><a href="{{path "users" .Subject}}">{{.Username}}</a>{{if .Static}} <span class="tag">declared</span>{{end}}</td>
  <td>{{.Claims.Name}}</td><td><code>{{.Subject}}</code></td><td>{{with .Claims.Roles}}{{join . ", "}}{{else}}—{{end}}</td>
  <td>{{if index $.Locked .Username}}<span class="tag bad">locked</span>{{else}}ok{{end}}</td>
</tr>{{else}}<tr><td colspan="5">No user matches.</td></tr>{{end}}</tbody>
</table></div>
<form class="panel" method="post" action="{{path "users"}}">
  <h2>New user</h2>
  <label for="u-name">Username</label>
  <input type="text" id="u-name" name="username" required autocomplete="off">
  <label for="u-sub">Subject</label>
  <input type="text" id="u-sub" name="subject" autocomplete="off" aria-describedby="u-sub-hint">
  <p class="hint" id="u-sub-hint">The stable sub claim; empty: generated.</p>
  <button type="submit">Create user</button>
  <p class="hint">A password is generated and shown once.</p>
</form>
{{end}}

{{define "user"}}{{with .User}}
{{if $.Password}}<div class="panel" role="status"><h2>New password</h2>
  <p>Give it to {{.Username}} now: it is shown <strong>once</strong>.</p>
  <p class="secret" id="user-password">{{$.Password}}</p></div>{{end}}
<dl class="facts">
  <dt>Username</dt><dd>{{.Username}}{{if .Static}} <span class="tag">declared in the configuration</span>{{end}}</dd>
  <dt>Subject</dt><dd><code>{{.Subject}}</code></dd>
  <dt>Name</dt><dd>{{with .Claims.Name}}{{.}}{{else}}—{{end}}</dd>
  <dt>Email</dt><dd>{{with .Claims.Email}}{{.}}{{else}}—{{end}}</dd>
  <dt>Roles</dt><dd>{{with .Claims.Roles}}{{join . ", "}}{{else}}none{{end}}</dd>
  <dt>Sign-in</dt><dd>{{if $.IsLocked}}<span class="tag bad">locked by failed logins</span>{{else}}not locked{{end}}</dd>
  <dt>Updated</dt><dd>{{time .UpdatedAt}}</dd>
</dl>
<p><a href="{{path "grants"}}?user={{.Username}}">Grants and sessions of {{.Username}}</a></p>
<div class="panel"><h2>Actions</h2><div class="actions">
  {{if not .Static}}<form class="inline" method="post" action="{{path "users" .Subject "password"}}" data-confirm="Give {{.Username}} a new password? The old one stops working.">
    <button type="submit" class="secondary">Reset password</button></form>{{end}}
  <form class="inline" method="post" action="{{path "users" .Subject "unlock"}}">
    <button type="submit" class="secondary">Unlock sign-in</button></form>
  {{if not .Static}}<form class="inline" method="post" action="{{path "users" .Subject "role"}}"{{if $.IsAdmin}} data-confirm="Take the {{$.Role}} role from {{.Username}}?"{{end}}>
    <input type="hidden" name="grant" value="{{if $.IsAdmin}}0{{else}}1{{end}}">
    <button type="submit" class="{{if $.IsAdmin}}danger{{else}}secondary{{end}}">{{if $.IsAdmin}}Remove the {{$.Role}} role{{else}}Give the {{$.Role}} role{{end}}</button></form>{{end}}
</div>{{if .Static}}<p class="muted">This user is declared in the configuration file: its password and roles are set there.</p>{{end}}</div>
{{end}}{{end}}`

// maxListed bounds the users a list shows.
const maxListed = 200

type userView struct {
	Query    string
	Users    []*store.User
	More     bool
	Locked   map[string]bool
	User     *store.User
	IsLocked bool
	IsAdmin  bool
	Role     string
	Password string // shown once
}

func listUsers(c *Call) error {
	all, err := c.Store().ListUsers(c.R.Context())
	if err != nil {
		return err
	}
	q := strings.ToLower(strings.TrimSpace(c.R.URL.Query().Get("q")))
	v := userView{Query: q, Locked: map[string]bool{}}
	slices.SortFunc(all, func(a, b *store.User) int { return strings.Compare(a.Username, b.Username) })
	for _, u := range all {
		if q != "" && !matchUser(u, q) {
			continue
		}
		if len(v.Users) == maxListed {
			v.More = true
			break
		}
		v.Users = append(v.Users, u)
		if a := c.api.o.Accounts; a != nil && a.AccountLocked(u.Username) {
			v.Locked[u.Username] = true
		}
	}
	return c.Render(http.StatusOK, v)
}

func matchUser(u *store.User, q string) bool {
	for _, s := range []string{u.Username, u.Subject, u.Claims.Name, u.Claims.Email} {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	return false
}

func (c *Call) userView(u *store.User) userView {
	v := userView{User: u, Role: c.api.cfg.AdminRole, IsAdmin: u.Claims.HasRole(c.api.cfg.AdminRole)}
	if a := c.api.o.Accounts; a != nil {
		v.IsLocked = a.AccountLocked(u.Username)
	}
	return v
}

func showUser(c *Call) error {
	u, err := c.Store().GetUser(c.R.Context(), c.R.PathValue("sub"))
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, c.userView(u))
}

// newPassword is 18 random bytes, base64url: 24 characters.
func newPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func createUser(c *Call) error {
	name, sub := c.Form("username"), c.Form("subject")
	if err := checkName("username", name); err != nil {
		return err
	}
	if sub == "" {
		sub = "user-" + newPassword()[:16]
	} else if err := checkName("subject", sub); err != nil {
		return err
	}
	pw := newPassword()
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	now := c.Now()
	u := &store.User{Subject: sub, Username: name, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := c.Store().CreateUser(c.R.Context(), u); errors.Is(err, store.ErrAlreadyExists) {
		return &Problem{Status: http.StatusConflict, Field: "username", Message: "a user " + name + " (or the subject " + sub + ") exists already"}
	} else if err != nil {
		return err
	}
	c.Event(secevent.UserChanged, secevent.Event{Subject: sub, Reason: "created"})
	c.Notice("User %s created.", name)
	c.Location("users", sub)
	v := c.userView(u)
	v.Password = pw
	return c.Render(http.StatusCreated, v)
}

// checkName refuses an empty, long or odd username or subject.
func checkName(field, s string) error {
	switch {
	case s == "":
		return Invalid(field, "is required")
	case len(s) > 128:
		return Invalid(field, "is longer than 128 characters")
	case strings.ContainsAny(s, "/\\?#%") || strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return Invalid(field, "may not hold spaces, control characters or / \\ ? # %%")
	}
	return nil
}

// editable returns the user the path names, refusing one declared in
// the file (whose password and claims the next start would restore).
func editable(c *Call) (*store.User, error) {
	u, err := c.Store().GetUser(c.R.Context(), c.R.PathValue("sub"))
	if err != nil {
		return nil, err
	}
	if u.Static {
		return nil, &Problem{Status: http.StatusConflict, Message: "user " + u.Username + " is declared in the configuration file: change it there"}
	}
	return u, nil
}

func resetPassword(c *Call) error {
	u, err := editable(c)
	if err != nil {
		return err
	}
	pw := newPassword()
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	if err := c.Store().SetPassword(c.R.Context(), u.Subject, hash, c.Now()); err != nil {
		return err
	}
	c.Event(secevent.UserChanged, secevent.Event{Subject: u.Subject, Reason: "password_reset"})
	c.Notice("%s has a new password.", u.Username)
	v := c.userView(u)
	v.Password = pw
	return c.Render(http.StatusOK, v)
}

func unlockUser(c *Call) error {
	u, err := c.Store().GetUser(c.R.Context(), c.R.PathValue("sub"))
	if err != nil {
		return err
	}
	a := c.api.o.Accounts
	if a == nil {
		return &Problem{Status: http.StatusConflict, Message: "this server does not throttle logins"}
	}
	had := a.UnlockAccount(u.Username)
	c.Event(secevent.UserChanged, secevent.Event{Subject: u.Subject, Reason: "unlocked"})
	if had {
		c.Notice("%s's failed logins are forgotten: they can sign in again.", u.Username)
	} else {
		c.Notice("%s had no failed login to forget.", u.Username)
	}
	return c.Render(http.StatusOK, c.userView(u))
}

// setRole gives (grant=1) or takes (grant=0) the admin role. An operator
// cannot take their own: the console keeps at least the one using it.
func setRole(c *Call) error {
	u, err := editable(c)
	if err != nil {
		return err
	}
	role, give := c.api.cfg.AdminRole, c.Form("grant") == "1"
	if !give && u.Subject == c.Operator.Subject {
		return &Problem{Status: http.StatusConflict, Message: "you cannot take away your own " + role + " role; ask another administrator"}
	}
	roles := slices.DeleteFunc(slices.Clone(u.Claims.Roles), func(r string) bool { return r == role })
	if give {
		roles = append(roles, role)
	}
	u.Claims.Roles, u.UpdatedAt = roles, c.Now()
	if err := c.Store().UpsertUser(c.R.Context(), u); err != nil {
		return err
	}
	reason := "role_revoked"
	if give {
		reason = "role_granted"
	}
	c.Event(secevent.UserChanged, secevent.Event{Subject: u.Subject, Reason: reason})
	c.Notice("%s %s the %s role.", u.Username, map[bool]string{true: "now has", false: "no longer has"}[give], role)
	return c.Render(http.StatusOK, c.userView(u))
}
