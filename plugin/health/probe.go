package health

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/gslb/gslb/plugin/model"
)

// maxBody is how much of a response body is read before closing: the status
// decides, the body is drained a little only so small replies end cleanly.
const maxBody = 4 << 10

var errNotAllowed = errors.New(notAllowed)

// dial connects to the target's address and nothing else. The address is a
// literal, so no name is ever resolved; Allowed is checked again here, the
// last point before a packet leaves, whatever the caller did before.
func (c *Checker) dial(ctx context.Context, t Target) (net.Conn, error) {
	if !t.Addr.IsValid() || !c.s.allowed(t.Addr) {
		return nil, errNotAllowed
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", netip.AddrPortFrom(t.Addr, t.Port).String())
}

// httpClient builds the client of one HTTP(S) target. Keep-alives are off so
// that every probe opens a fresh connection: a pooled connection to a server
// that has since died (or to a listener that no longer accepts) would hide
// the failure. Redirects are not followed: a 3xx is a status to judge, and
// following it could lead the prober to another host.
func (c *Checker) httpClient(t Target) *http.Client {
	tr := &http.Transport{
		Proxy: nil, // never through a proxy from the environment
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.dial(ctx, t)
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	if t.Proto == HTTPS {
		tr.TLSClientConfig = &tls.Config{
			ServerName:         t.Host, // SNI; empty = none, verify the IP
			InsecureSkipVerify: !c.s.TLSVerify,
			RootCAs:            c.s.RootCAs,
		}
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// fmtHostPort gives the address:port of t for a URL (zone dropped).
func fmtHostPort(t Target) string {
	return netip.AddrPortFrom(t.Addr.WithZone(""), t.Port).String()
}

// probe runs one check of e bounded by the timeout and says whether it
// passed, why, and how long it took.
func (c *Checker) probe(ctx context.Context, e *entry) (ok bool, reason string, took time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, c.s.Timeout)
	defer cancel()
	start := time.Now()

	if e.t.Proto == TCP {
		conn, err := c.dial(pctx, e.t)
		took = time.Since(start)
		if err != nil {
			return false, c.reason(pctx, err), took
		}
		conn.Close()
		return true, "connected", took
	}

	req, err := http.NewRequestWithContext(pctx, c.s.Method, e.url, nil)
	if err != nil {
		return false, "bad request: " + err.Error(), 0
	}
	if e.t.Host != "" {
		req.Host = e.t.Host
	}
	req.Header.Set("User-Agent", model.UserAgent+"-health")
	req.Close = true
	resp, err := e.client.Do(req)
	took = time.Since(start)
	if err != nil {
		return false, c.reason(pctx, err), took
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxBody)
	resp.Body.Close()
	return expected(c.s.Expect, resp.StatusCode), "HTTP " + strconv.Itoa(resp.StatusCode), took
}

// reason turns a probe error into the short text logs and State show:
// "connect: connection refused", "timeout after 1s", "tls: ...".
func (c *Checker) reason(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timeout after " + c.s.Timeout.String()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed by server"
	}
	return err.Error()
}
