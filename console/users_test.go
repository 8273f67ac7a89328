package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/secevent"
)

var passwordRE = regexp.MustCompile(`<p class="secret" id="user-password">([^<]+)</p>`)

// Create a user, reset the password, give and take the admin role: each
// works and is a user_changed event by the operator.
func TestUserActions(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	ctx := context.Background()

	code, body := b.api("/users", url.Values{"username": {"carol"}, "subject": {"u-carol"}})
	m := passwordRE.FindStringSubmatch(body)
	if code != http.StatusCreated || m == nil {
		t.Fatalf("create: %d %.600s", code, body)
	}
	u, err := e.st.GetUser(ctx, "u-carol")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := password.Verify(m[1], u.PasswordHash); !ok {
		t.Error("the shown password is not carol's")
	}
	if ev := e.event(secevent.UserChanged, "created"); ev.Actor != "u-alice" || ev.Subject != "u-carol" {
		t.Errorf("event %+v", ev)
	}

	code, body = b.api("/users/u-carol/password", url.Values{})
	m2 := passwordRE.FindStringSubmatch(body)
	if code != http.StatusOK || m2 == nil || m2[1] == m[1] {
		t.Fatalf("reset: %d %.600s", code, body)
	}
	u, _ = e.st.GetUser(ctx, "u-carol")
	if ok, _ := password.Verify(m2[1], u.PasswordHash); !ok {
		t.Error("the new password is not carol's")
	}
	e.event(secevent.UserChanged, "password_reset")

	if code, _ := b.api("/users/u-carol/role", url.Values{"grant": {"1"}}); code != http.StatusOK {
		t.Fatalf("give role: %d", code)
	}
	if u, _ = e.st.GetUser(ctx, "u-carol"); !u.Claims.HasRole("admin") {
		t.Error("carol is not an admin")
	}
	e.event(secevent.UserChanged, "role_granted")
	if code, _ := b.api("/users/u-carol/role", url.Values{"grant": {"0"}}); code != http.StatusOK {
		t.Fatalf("take role: %d", code)
	}
	if u, _ = e.st.GetUser(ctx, "u-carol"); u.Claims.HasRole("admin") {
		t.Error("carol is still an admin")
	}
	e.event(secevent.UserChanged, "role_revoked")

	code, body = b.api("/users?q=car", nil)
	if code != http.StatusOK || !strings.Contains(body, "carol") || strings.Contains(body, ">bob<") {
		t.Errorf("search: %d %.600s", code, body)
	}
}

// An operator cannot take their own admin role; bad names are refused.
func TestUserInputRefused(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	if code, body := b.api("/users/u-alice/role", url.Values{"grant": {"0"}}); code != http.StatusConflict || !strings.Contains(body, "your own") {
		t.Errorf("own role: %d %.300s", code, body)
	}
	for name, f := range map[string]url.Values{
		"no username":   {"username": {""}},
		"space":         {"username": {"a b"}},
		"slash":         {"username": {"a/b"}},
		"control":       {"username": {"a\x01"}},
		"long":          {"username": {strings.Repeat("a", 129)}},
		"subject slash": {"username": {"dave"}, "subject": {"x/y"}},
	} {
		if code, body := b.api("/users", f); code != http.StatusBadRequest || !strings.Contains(body, `class="problem"`) {
			t.Errorf("%s: %d %.300s", name, code, body)
		}
	}
	if code, _ := b.api("/users", url.Values{"username": {"bob"}}); code != http.StatusConflict {
		t.Errorf("taken username: %d", code)
	}
	if code, _ := b.api("/users/nobody/password", url.Values{}); code != http.StatusNotFound {
		t.Errorf("unknown user: %d", code)
	}
}

// A locked account is shown locked and unlocked from the console.
func TestUnlockUser(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.RateLimits.LoginFailures.Account = config.FailurePolicy{Free: 1, BaseDelay: time.Second, MaxDelay: time.Second,
			LockAfter: 2, LockFor: time.Hour, Forget: time.Hour}
	})
	for range 2 {
		e.browser().failLogin("bob")
	}
	if !e.as.AccountLocked("bob") {
		t.Fatal("bob is not locked after two failed logins")
	}
	b := e.browser()
	b.login("alice")
	if _, body := b.api("/users/u-bob", nil); !strings.Contains(body, "locked by failed logins") {
		t.Errorf("not shown locked: %.500s", body)
	}
	if _, body := b.api("/users?q=bob", nil); !strings.Contains(body, ">locked<") {
		t.Errorf("not listed locked: %.500s", body)
	}
	if code, _ := b.api("/users/u-bob/unlock", url.Values{}); code != http.StatusOK {
		t.Fatalf("unlock: %d", code)
	}
	if e.as.AccountLocked("bob") {
		t.Error("bob is still locked")
	}
	e.event(secevent.UserChanged, "unlocked")
	e.browser().login("bob") // bob signs in again
}
