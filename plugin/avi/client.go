package avi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gslb/gslb/plugin/model"
)

// Kind says what went wrong talking to the controller; it picks the log
// message, the fix we suggest and the polls_total result label.
type Kind int

const (
	// KindUnreachable: no connection, a timeout, or a 5xx/429 answer.
	// Transient: back off and retry.
	KindUnreachable Kind = iota + 1
	// KindTLS: the controller's certificate is not trusted (or the URL
	// does not speak TLS).
	KindTLS
	// KindAuth: the login was refused, or the credentials file became
	// unreadable.
	KindAuth
	// KindRejected: a 4xx other than 401/404/419, e.g. an X-Avi-Version
	// the controller does not support, or a tenant the user cannot see.
	KindRejected
	// KindNotFound: 404.
	KindNotFound
	// KindMalformed: a 200 answer that is not the Avi API's JSON.
	KindMalformed
)

// Label is the polls_total result for the kind.
func (k Kind) Label() string {
	switch k {
	case KindUnreachable:
		return "unreachable"
	case KindTLS:
		return "tls_error"
	case KindAuth:
		return "auth_failed"
	case KindRejected, KindNotFound:
		return "rejected"
	case KindMalformed:
		return "malformed"
	}
	return "error"
}

// Error is a failed exchange with the controller. It never carries a
// password, token or session cookie.
type Error struct {
	Kind   Kind
	Op     string // "GET /api/gslbservice", "POST /login"
	Status int    // HTTP status, 0 when there was no answer
	Msg    string
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, e.Msg)
	}
	return e.Op + ": " + e.Msg
}

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnreachable
}

// maxBody bounds what one answer may hold (a page of 100 services is well
// under 1 MiB; runtime with metrics a few).
const maxBody = 64 << 20

// client speaks the controller's session protocol: POST /login with JSON
// credentials sets the csrftoken and sessionid/avi-sessionid cookies; every
// later request sends them back with X-CSRFToken, Referer, X-Avi-Version
// and X-Avi-Tenant. A 401 or 419 drops the session; the next request logs
// in again. It is safe for concurrent use.
type client struct {
	origin  string // https://host[:port]
	hc      *http.Client
	version string
	tenant  string
	timeout time.Duration
	creds   func() (Credentials, error)
	gate    *loginGate

	loginMu sync.Mutex // one login at a time
	mu      sync.Mutex
	cookies []*http.Cookie
	csrf    string
	gen     int // session generation, so concurrent 401s drop it once
}

// TLSConfig returns the client TLS settings: verified against roots (the
// system pool when nil) unless insecure.
func TLSConfig(roots *x509.CertPool, insecure bool) *tls.Config {
	return &tls.Config{RootCAs: roots, InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12} //nolint:gosec // insecure is the Corefile's explicit opt-out
}

func newClient(origin, version, tenant string, timeout time.Duration, tlsCfg *tls.Config, creds func() (Credentials, error), gate *loginGate) *client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
	}
	return &client{
		origin:  origin,
		version: version,
		tenant:  tenant,
		timeout: timeout,
		creds:   creds,
		gate:    gate,
		hc: &http.Client{
			Transport: tr,
			// A redirect is a wrong URL (or a login page): report it,
			// never follow it with our cookies.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

func (c *client) session() (cookies []*http.Cookie, csrf string, gen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cookies, c.csrf, c.gen
}

func (c *client) dropSession(gen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.cookies, c.csrf = nil, ""
		c.gen++
	}
}

// login opens a session unless one is open already.
func (c *client) login(ctx context.Context) error {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	if cookies, _, _ := c.session(); cookies != nil {
		return nil
	}
	op := "POST /login"
	cr, err := c.creds()
	if err != nil {
		return &Error{Kind: KindAuth, Op: op, Msg: err.Error()}
	}
	if c.gate.refused(cr) {
		return &Error{Kind: KindAuth, Op: op, Msg: fmt.Sprintf("not logging in as %q again: the controller refused these credentials", cr.Username)}
	}
	body := map[string]string{"username": cr.Username}
	if cr.Token != "" {
		body["token"] = cr.Token
	} else {
		body["password"] = cr.Password
	}
	payload, _ := json.Marshal(body)
	resp, data, err := c.send(ctx, http.MethodPost, "/login", payload, nil, "")
	if err != nil {
		return withOp(err, op)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		c.gate.refuse(cr)
		return &Error{Kind: KindAuth, Op: op, Status: resp.StatusCode, Msg: fmt.Sprintf("login as %q refused: %s", cr.Username, message(data))}
	default:
		return statusError(op, resp, data)
	}
	var csrf string
	var cookies []*http.Cookie
	session := false
	for _, ck := range resp.Cookies() {
		switch ck.Name {
		case "csrftoken":
			csrf = ck.Value
		case "sessionid", "avi-sessionid":
			session = ck.Value != ""
		}
		cookies = append(cookies, &http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	if !session {
		return &Error{Kind: KindMalformed, Op: op, Status: resp.StatusCode, Msg: "the login answer set no sessionid cookie: this URL is not an Avi controller's API"}
	}
	c.mu.Lock()
	c.cookies, c.csrf = cookies, csrf
	c.mu.Unlock()
	c.gate.accept()
	return nil
}

// loginGate remembers credentials a controller refused, so that they are
// not tried again: Avi locks an account after 3 failed logins (for 30
// minutes by default), and the account is often AMKO's too, so retrying a
// wrong password would take AMKO down with us. Credentials are tried again
// once they, or the file they come from (its mtime), change. One gate
// serves every controller of a source: they share the user database.
type loginGate struct {
	stamp func() string // the credentials file's version; nil without a file

	mu         sync.Mutex
	blocked    bool
	blockedFor Credentials
	blockedAt  string
}

func (g *loginGate) version() string {
	if g.stamp == nil {
		return ""
	}
	return g.stamp()
}

func (g *loginGate) refused(cr Credentials) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blocked && cr == g.blockedFor && g.version() == g.blockedAt
}

func (g *loginGate) refuse(cr Credentials) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocked, g.blockedFor, g.blockedAt = true, cr, g.version()
}

func (g *loginGate) accept() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocked = false
}

// fileStamp is a file's modification time and size, "" when unreadable.
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size())
}

// get fetches pathQuery ("/api/...") into out, logging in first when
// needed and once more when the controller says the session expired.
func (c *client) get(ctx context.Context, pathQuery string, out any) error {
	op := "GET " + pathOnly(pathQuery)
	for attempt := 0; ; attempt++ {
		if err := c.login(ctx); err != nil {
			return err
		}
		cookies, csrf, gen := c.session()
		resp, data, err := c.send(ctx, http.MethodGet, pathQuery, nil, cookies, csrf)
		if err != nil {
			return withOp(err, op)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			c.refreshCookies(resp, gen)
			return decode(op, data, out)
		case http.StatusUnauthorized, 419:
			c.dropSession(gen)
			if attempt == 0 {
				continue
			}
			return &Error{Kind: KindAuth, Op: op, Status: resp.StatusCode, Msg: "the controller refused a session it had just opened: " + message(data)}
		}
		return statusError(op, resp, data)
	}
}

// refreshCookies keeps a rotated csrftoken or session cookie.
func (c *client) refreshCookies(resp *http.Response, gen int) {
	fresh := resp.Cookies()
	if len(fresh) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	for _, ck := range fresh {
		if ck.Value == "" {
			continue
		}
		found := false
		for i, old := range c.cookies {
			if old.Name == ck.Name {
				c.cookies[i] = &http.Cookie{Name: ck.Name, Value: ck.Value}
				found = true
			}
		}
		if !found {
			c.cookies = append(c.cookies, &http.Cookie{Name: ck.Name, Value: ck.Value})
		}
		if ck.Name == "csrftoken" {
			c.csrf = ck.Value
		}
	}
}

// send makes one request with the API headers and a timeout, and reads the
// answer. Only transport failures are errors here.
func (c *client) send(ctx context.Context, method, pathQuery string, body []byte, cookies []*http.Cookie, csrf string) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.origin+pathQuery, rd)
	if err != nil {
		return nil, nil, &Error{Kind: KindRejected, Msg: err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Referer", c.origin+"/")
	req.Header.Set("X-Avi-Version", c.version)
	req.Header.Set("X-Avi-Tenant", c.tenant)
	if csrf != "" {
		req.Header.Set("X-CSRFToken", csrf)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	req.Header.Set("User-Agent", model.UserAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, transportError(ctx, err, c.timeout)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, transportError(ctx, err, c.timeout)
	}
	if len(data) > maxBody {
		return nil, nil, &Error{Kind: KindMalformed, Status: resp.StatusCode, Msg: fmt.Sprintf("answer larger than %d MiB", maxBody>>20)}
	}
	return resp, data, nil
}

func transportError(ctx context.Context, err error, timeout time.Duration) error {
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	var cie x509.CertificateInvalidError
	switch {
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &he), errors.As(err, &cie):
		return &Error{Kind: KindTLS, Msg: "the controller's certificate is not trusted: " + innermost(err)}
	case errors.As(err, &rhe):
		return &Error{Kind: KindTLS, Msg: "the URL does not answer TLS (is it the controller's HTTPS address?)"}
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindUnreachable, Msg: fmt.Sprintf("no answer within %s", timeout)}
	case errors.Is(ctx.Err(), context.Canceled):
		return &Error{Kind: KindUnreachable, Msg: "cancelled"}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: KindUnreachable, Msg: fmt.Sprintf("no answer within %s", timeout)}
	}
	return &Error{Kind: KindUnreachable, Msg: innermost(err)}
}

// innermost drops the *url.Error wrapper, whose text repeats the URL.
func innermost(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func withOp(err error, op string) error {
	var e *Error
	if errors.As(err, &e) && e.Op == "" {
		e.Op = op
	}
	return err
}

func statusError(op string, resp *http.Response, data []byte) error {
	e := &Error{Op: op, Status: resp.StatusCode, Msg: message(data)}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		e.Kind = KindUnreachable
	case resp.StatusCode == http.StatusNotFound:
		e.Kind = KindNotFound
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		e.Kind = KindRejected
		e.Msg = "redirected to " + resp.Header.Get("Location") + ": give the controller's API address itself"
	default:
		e.Kind = KindRejected
	}
	return e
}

// message extracts the controller's error text ({"error": ...} or
// {"detail": ...}), else a short printable prefix of the body.
func message(data []byte) string {
	var m map[string]any
	if json.Unmarshal(data, &m) == nil {
		for _, k := range []string{"error", "detail", "message", "msg"} {
			if s, ok := m[k].(string); ok && s != "" {
				return clip(s)
			}
		}
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "empty answer"
	}
	return clip(s)
}

func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

func decode(op string, data []byte, out any) error {
	if err := json.Unmarshal(data, out); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		msg := "the answer is not JSON"
		switch {
		case errors.As(err, &se):
			msg = fmt.Sprintf("the answer is not valid JSON (at byte %d of %d)", se.Offset, len(data))
		case errors.As(err, &te):
			msg = fmt.Sprintf("the answer does not have the Avi API's shape (%s is a %s, want %s)", te.Field, te.Value, te.Type)
		case errors.Is(err, io.ErrUnexpectedEOF):
			msg = fmt.Sprintf("the answer is cut short (%d bytes)", len(data))
		}
		return &Error{Kind: KindMalformed, Op: op, Status: http.StatusOK, Msg: msg}
	}
	return nil
}

func pathOnly(pathQuery string) string {
	p, _, _ := strings.Cut(pathQuery, "?")
	return p
}

// page is one page of an Avi collection. Its objects are kept raw and
// decoded one by one, so that one object of an unexpected shape is left
// out (and reported) instead of failing the whole poll.
type page struct {
	Count   *int              `json:"count"`
	Next    string            `json:"next"`
	Results []json.RawMessage `json:"results"`
}

// Skipped is an object of a collection that does not decode into its
// alb-sdk model. It is left out of the poll; the caller keeps what it knew
// of the object before.
type Skipped struct {
	UUID string // "" when even the uuid is unreadable
	Name string
	Msg  string
}

func (s Skipped) String() string {
	id := s.UUID
	if s.Name != "" {
		id = fmt.Sprintf("%s (%s)", s.Name, s.UUID)
	}
	if id == "" {
		id = "an object without a readable uuid"
	}
	return id + ": " + s.Msg
}

// maxPages bounds a collection walk (half a million objects at page size 100).
const maxPages = 5000

// collect reads every page of the collection at path. It follows the
// controller's `next` links, which are absolute URLs naming the controller
// as it sees itself (often not the address we reach it by): only their path
// and query are kept. When a controller gives no next link while objects
// are missing, the following page number is asked for explicitly. alb-sdk's
// GetAll is not used: it returns zero objects, and no error, for absolute
// next links.
func collect[T any](ctx context.Context, c *client, path string, pageSize int) ([]T, []Skipped, error) {
	op := "GET " + path
	q := url.Values{"page_size": {strconv.Itoa(pageSize)}}
	next := path + "?" + q.Encode()
	seen := map[string]bool{next: true}
	var (
		out     []T
		skipped []Skipped
		total   int
	)
	for n := 1; ; n++ {
		var p page
		if err := c.get(ctx, next, &p); err != nil {
			return nil, nil, err
		}
		if p.Count == nil {
			return nil, nil, &Error{Kind: KindMalformed, Op: op, Status: http.StatusOK, Msg: "the answer has no count: it is not an Avi collection"}
		}
		total += len(p.Results)
		out, skipped = decodeResults(op, p.Results, out, skipped)
		switch {
		case p.Next != "":
			rel, err := relative(p.Next)
			if err != nil {
				return nil, nil, &Error{Kind: KindMalformed, Op: op, Status: http.StatusOK, Msg: err.Error()}
			}
			next = rel
		case total < *p.Count && len(p.Results) > 0:
			q.Set("page", strconv.Itoa(n+1))
			next = path + "?" + q.Encode()
		default:
			return out, skipped, nil
		}
		if seen[next] || n >= maxPages {
			return nil, nil, &Error{Kind: KindMalformed, Op: op, Status: http.StatusOK, Msg: "the next links loop"}
		}
		seen[next] = true
	}
}

// decodeResults decodes a page's objects one by one onto out; those that
// do not decode are named in skipped instead.
func decodeResults[T any](op string, results []json.RawMessage, out []T, skipped []Skipped) ([]T, []Skipped) {
	for _, raw := range results {
		var v T
		if err := decode(op, raw, &v); err != nil {
			skipped = append(skipped, skippedObject(raw, err))
			continue
		}
		out = append(out, v)
	}
	return out, skipped
}

// skippedObject names an object that failed to decode, as far as its uuid
// and name can still be read.
func skippedObject(raw json.RawMessage, err error) Skipped {
	var id struct {
		UUID string `json:"uuid"`
		Name string `json:"name"`
	}
	// encoding/json goes on past a field of the wrong type, so whichever
	// of the two is a string is read.
	_ = json.Unmarshal(raw, &id)
	msg := err.Error()
	var e *Error
	if errors.As(err, &e) {
		msg = e.Msg
	}
	return Skipped{UUID: clip(id.UUID), Name: clip(id.Name), Msg: msg}
}

// relative turns an absolute (or relative) next link into path?query.
func relative(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("next link %q is not a URL", clip(next))
	}
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/api/") {
		return "", fmt.Errorf("next link %q is not under /api/", clip(next))
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, nil
}

// controllerVersion asks /api/initial-data, which needs no session, for the
// controller's version; "" when it cannot tell.
func (c *client) controllerVersion(ctx context.Context) string {
	resp, data, err := c.send(ctx, http.MethodGet, "/api/initial-data", nil, nil, "")
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	var v struct {
		Version struct {
			Version string `json:"Version"`
		} `json:"version"`
	}
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	return clip(v.Version.Version)
}
