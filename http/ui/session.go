package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Cookies. The session cookie holds a role and an expiry signed with a secret derived
// from the auth key, never the key itself: every node with the same key accepts it,
// and changing the key ends every session.
const (
	sessionCookie = "coal_mine_session"
	csrfCookie    = "coal_mine_csrf"
	sessionTTL    = 12 * time.Hour
	csrfField     = "csrf"
)

// role is what a session may do.
type role string

const (
	readWrite role = "rw"
	readOnly  role = "ro"
)

type sessions struct {
	secret []byte // nil: no auth key, the interface is open
}

func newSessions(authKey string) sessions {
	if authKey == "" {
		return sessions{}
	}
	mac := hmac.New(sha256.New, []byte(authKey))
	mac.Write([]byte("coal-mine web interface session v1"))
	return sessions{secret: mac.Sum(nil)}
}

func (s sessions) open() bool { return s.secret == nil }

func (s sessions) sign(payload string) string {
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// issue makes a session cookie's value: role|expiry|signature.
func (s sessions) issue(r role, now time.Time) string {
	payload := string(r) + "|" + strconv.FormatInt(now.Add(sessionTTL).Unix(), 10)
	return payload + "|" + s.sign(payload)
}

// verify returns the role of a session cookie's value, if it is genuine and unexpired.
func (s sessions) verify(value string, now time.Time) (role, bool) {
	i := strings.LastIndexByte(value, '|')
	if i < 0 {
		return "", false
	}
	payload, sig := value[:i], value[i+1:]
	if !hmac.Equal([]byte(sig), []byte(s.sign(payload))) {
		return "", false
	}
	r, expiry, ok := strings.Cut(payload, "|")
	unix, err := strconv.ParseInt(expiry, 10, 64)
	if !ok || err != nil || !now.Before(time.Unix(unix, 0)) || (role(r) != readWrite && role(r) != readOnly) {
		return "", false
	}
	return role(r), true
}

// roleOf is what the request may do: everything when the interface is open.
func (u *ui) roleOf(c *gin.Context) (role, bool) {
	if u.sessions.open() {
		return readWrite, true
	}
	value, err := c.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	return u.sessions.verify(value, u.cfg.Now())
}

// requireSession lets a request in with a session (write: a read-write one); a browser
// without one is sent to the login form.
func (u *ui) requireSession(write bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, ok := u.roleOf(c)
		switch {
		case !ok:
			c.Redirect(http.StatusSeeOther, "/ui/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
			c.Abort()
		case write && r != readWrite:
			u.fail(c, http.StatusForbidden, "This session has the read-only key: it can look, not change.")
			c.Abort()
		default:
			c.Set("role", r)
			c.Next()
		}
	}
}

// key is the API key that stands for the session in the in-process API calls.
func (u *ui) key(c *gin.Context) string {
	if r, _ := c.Get("role"); r == readOnly {
		return u.cfg.ReadOnlyKey
	}
	return u.cfg.AuthKey
}

// csrfToken returns the browser's form token, setting the cookie on its first page.
// Forms carry it in a hidden field and the POST must bring both (double submit): a page
// of another site can make the browser send the cookie, but cannot read it.
func (u *ui) csrfToken(c *gin.Context) string {
	if t, err := c.Cookie(csrfCookie); err == nil && len(t) == 43 {
		return t
	}
	b := make([]byte, 32)
	rand.Read(b)
	t := base64.RawURLEncoding.EncodeToString(b)
	u.setCookie(c, csrfCookie, t, 0)
	return t
}

// csrf refuses a form without the token of its browser, or from another origin.
func (u *ui) csrf(c *gin.Context) {
	cookie, err := c.Cookie(csrfCookie)
	form := c.PostForm(csrfField)
	if err != nil || cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) != 1 || !sameOrigin(c.Request) {
		u.fail(c, http.StatusForbidden, "The form has expired or came from another site: reload the page and try again.")
		c.Abort()
		return
	}
	c.Next()
}

// sameOrigin checks the Origin header, when the browser sends one, against the host.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	o, err := url.Parse(origin)
	return err == nil && o.Host == r.Host
}

func (u *ui) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

func (u *ui) loginForm(c *gin.Context) {
	if u.sessions.open() {
		c.Redirect(http.StatusSeeOther, "/ui/")
		return
	}
	u.render(c, http.StatusOK, "login", page{Title: "Log in", Data: map[string]string{"Next": safeNext(c.Query("next"))}})
}

func (u *ui) login(c *gin.Context) {
	key := c.PostForm("key")
	var r role
	switch {
	case u.sessions.open():
		c.Redirect(http.StatusSeeOther, "/ui/")
		return
	case subtle.ConstantTimeCompare([]byte(key), []byte(u.cfg.AuthKey)) == 1:
		r = readWrite
	case u.cfg.ReadOnlyKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(u.cfg.ReadOnlyKey)) == 1:
		r = readOnly
	default:
		u.render(c, http.StatusUnauthorized, "login", page{Title: "Log in", Error: "That is not a key of this cluster.",
			Data: map[string]string{"Next": safeNext(c.PostForm("next"))}})
		return
	}
	u.setCookie(c, sessionCookie, u.sessions.issue(r, u.cfg.Now()), int(sessionTTL/time.Second))
	c.Redirect(http.StatusSeeOther, safeNext(c.PostForm("next")))
}

func (u *ui) logout(c *gin.Context) {
	u.setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/ui/login")
}

// safeNext keeps a redirect after login inside the interface.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}
