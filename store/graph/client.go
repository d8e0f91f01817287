// Package graph is Patchboard's Microsoft Graph connector: it reads Entra ID
// devices, Intune managed devices, Windows 365 Cloud PCs and the Device
// Registration group's members for the store's directory sync, and writes
// the ring groups back.
//
// The shape follows google/go-github: one Client with a configurable base
// URL and an injected *http.Client, methods that take ctx first, paging
// carried by the responses (@odata.nextLink, @odata.deltaLink), and typed
// errors a caller can act on (ThrottledError, PermissionError). The package
// holds no SQL: it returns and takes store types.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Client calls Microsoft Graph with an application's token.
type Client struct {
	base   *url.URL // e.g. https://graph.microsoft.com/ (national clouds differ)
	http   *http.Client
	tokens *tokenSource

	// Timeout bounds each attempt of a request, reading the body included.
	Timeout time.Duration
	// Retries is how many times a throttled (429), unavailable (503, 504)
	// or failed-in-transit request is tried again.
	Retries int
	// MaxWait caps one wait before a retry, whatever Retry-After says.
	MaxWait time.Duration

	requests atomic.Int64
}

// NewClient returns a client for the Graph service at baseURL that
// authenticates with tokens from ts. httpClient may be nil.
func newClient(baseURL string, httpClient *http.Client, ts *tokenSource) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/") + "/")
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("graph URL %q is not an http(s) URL", baseURL)
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	return &Client{base: u, http: httpClient, tokens: ts, Timeout: 60 * time.Second, Retries: 8, MaxWait: 2 * time.Minute}, nil
}

// Requests counts the HTTP requests the client has made to Graph, retries
// and $batch calls included (a $batch counts once).
func (c *Client) Requests() int { return int(c.requests.Load()) }

// Error is an error response of Graph: its status and the code and message
// of its error object.
type Error struct {
	Status  int
	Code    string
	Message string
	Method  string
	Path    string // without the query: it may hold tokens
}

func (e *Error) Error() string {
	msg := e.Message
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return fmt.Sprintf("Microsoft Graph %s %s answered %d %s: %s", e.Method, e.Path, e.Status, e.Code, msg)
}

// ThrottledError is a request still throttled (429) or unavailable (503)
// after every retry; RetryAfter is Graph's last advice.
type ThrottledError struct {
	Err        *Error
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%s (still throttled after every retry; Graph advises waiting %s)", e.Err.Error(), e.RetryAfter)
}

func (e *ThrottledError) Unwrap() error { return e.Err }

// PermissionError is a request refused for lack of an application
// permission; Permission names the one the endpoint needs (least privilege).
type PermissionError struct {
	Err        *Error
	Permission string
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s (grant the application permission %s with admin consent)", e.Err.Error(), e.Permission)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// MissingPermission names the permission to grant (store.PermissionNamer).
func (e *PermissionError) MissingPermission() string { return e.Permission }

// graphError is the body of a Graph error response.
type graphError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// request is one call: the path is relative to the base URL (e.g.
// "v1.0/devices/delta?…") unless it is an absolute link Graph returned.
type request struct {
	method     string
	path       string
	body       any
	header     http.Header
	permission string // named when the call is refused (403)
}

// do sends r, retrying throttling, unavailability and transport errors,
// renewing an expired token once, and decodes a success body into out (when
// not nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return err
		}
	}
	target, err := c.resolve(r.path)
	if err != nil {
		return err
	}
	renewed := false
	for attempt := 0; ; attempt++ {
		status, header, body, err := c.attempt(ctx, r, target, payload, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var gerr *Error
		switch {
		case status == http.StatusUnauthorized && !renewed:
			// The token expired early or was revoked: ask for a new one once.
			c.tokens.invalidate()
			renewed = true
			attempt--
			continue
		case status == http.StatusForbidden:
			ge := graphErrorOf(status, body, r.method, target)
			return &PermissionError{Err: ge, Permission: r.permission}
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
			gerr = graphErrorOf(status, body, r.method, target)
		case status == 0: // the request or its body did not get through
		default:
			if status >= 400 {
				return graphErrorOf(status, body, r.method, target)
			}
			return err
		}
		wait := retryAfter(header, attempt, c.MaxWait)
		if attempt >= c.Retries {
			if gerr != nil {
				return &ThrottledError{Err: gerr, RetryAfter: wait}
			}
			return err
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// attempt sends the request once. status is 0 when no response came.
func (c *Client) attempt(ctx context.Context, r request, target string, payload []byte, out any) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	tok, err := c.tokens.token(ctx)
	if err != nil {
		return -1, nil, nil, err
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return -1, nil, nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.requests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("Microsoft Graph %s %s: %w", r.method, pathOnly(target), stripURL(err))
	}
	defer func() { _ = resp.Body.Close() }() // read to its end below, or abandoned after an error
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, resp.Header, b, fmt.Errorf("status %d", resp.StatusCode)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body) // only so the connection is reused
		return resp.StatusCode, resp.Header, nil, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return 0, nil, nil, fmt.Errorf("Microsoft Graph %s %s: reading the response: %w", r.method, pathOnly(target), err)
	}
	// Read to the end (a trailing line break), so that the connection is
	// reused rather than closed: a new TLS handshake per page otherwise.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, resp.Header, nil, nil
}

// resolve makes a path absolute. Links Graph returns (nextLink, deltaLink)
// are absolute already; they must point at the configured service, so that
// a token is never sent elsewhere.
func (c *Client) resolve(path string) (string, error) {
	u, err := c.base.Parse(path)
	if err != nil {
		return "", fmt.Errorf("graph link %q: %w", pathOnly(path), err)
	}
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", fmt.Errorf("graph link to %s is not on the configured Graph service %s", u.Host, c.base.Host)
	}
	return u.String(), nil
}

func graphErrorOf(status int, body []byte, method, target string) *Error {
	e := &Error{Status: status, Method: method, Path: pathOnly(target)}
	var ge graphError
	if json.Unmarshal(body, &ge) == nil && ge.Error.Code != "" {
		e.Code, e.Message = ge.Error.Code, ge.Error.Message
	} else {
		e.Code, e.Message = http.StatusText(status), strings.TrimSpace(string(body))
	}
	return e
}

// pathOnly drops the query of a URL: skip and delta tokens stay out of
// errors and logs.
func pathOnly(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Path
	}
	s, _, _ = strings.Cut(s, "?")
	return s
}

// stripURL removes the URL (and its tokens) from a transport error.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryAfter is how long to wait before the next attempt: Graph's
// Retry-After (seconds) when given, else an exponential backoff with full
// jitter (so that many clients do not retry in step).
func retryAfter(h http.Header, attempt int, limit time.Duration) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
			return min(time.Duration(s)*time.Second, limit)
		}
		if t, err := http.ParseTime(v); err == nil {
			return min(max(0, time.Until(t)), limit)
		}
	}
	backoff := min(time.Second<<min(attempt, 10), limit)
	return time.Duration(rand.Int64N(int64(backoff)) + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// page is one page of a collection.
type page struct {
	Value     []json.RawMessage `json:"value"`
	NextLink  string            `json:"@odata.nextLink"`
	DeltaLink string            `json:"@odata.deltaLink"`
}

// pages walks a collection from first by @odata.nextLink, passing each page's
// items to fn, and returns the final page's @odata.deltaLink (if any).
func (c *Client) pages(ctx context.Context, first request, fn func(items []json.RawMessage) error) (string, error) {
	r := first
	for {
		var p page
		if err := c.do(ctx, r, &p); err != nil {
			return "", err
		}
		if err := fn(p.Value); err != nil {
			return "", err
		}
		if p.NextLink == "" {
			return p.DeltaLink, nil
		}
		r.path, r.body = p.NextLink, nil
	}
}
