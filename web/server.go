// Package web is Patchboard's HTTP server: the middleware chain, the one
// route table with the access each route needs, the guard that enforces it,
// the SQLite-backed session store and the error handler.
package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"patchboard/handlers"
	"patchboard/metrics"
	"patchboard/static"
	"patchboard/store"
	"patchboard/views"
)

// Config is the server's configuration.
type Config struct {
	// InsecureCookies drops the Secure flag, for plain-HTTP hosts (and
	// local use on 127.0.0.1).
	InsecureCookies bool
	SessionIdle     time.Duration // default 1 h
	SessionMax      time.Duration // default 12 h
	Logger          *slog.Logger
	// Background outlives requests; discovery started from the portal runs
	// on it. Default context.Background().
	Background context.Context
	// Now is the clock; default time.Now.
	Now func() time.Time
	// WriteStall bounds how long one write of a download waits for a
	// client that stopped reading; default handlers.DefaultWriteStall.
	WriteStall time.Duration
	// OIDC is the single sign-on provider (NewOIDC); nil: passwords only.
	OIDC *OIDC
	// BreakGlass keeps password sign-in for Global Administrators only
	// (PATCHBOARD_LOCAL_SIGNIN=break-glass); it needs OIDC.
	BreakGlass bool
	// HTTPS: the portal is served over TLS (its public URL is https://,
	// possibly through a proxy), so browsers are told to keep to it (HSTS).
	HTTPS bool
	// DiscoveryInterval is the period of the scheduler that runs beside
	// the portal, which the overview counts the next run from; zero when
	// none runs.
	DiscoveryInterval time.Duration
	// MetricsToken, when set, is the bearer token /metrics asks for.
	MetricsToken string
	// Metrics is the registry /metrics serves; New makes one when nil.
	// The server passes its own so background work (notifications) counts in it.
	Metrics *metrics.Metrics
}

func (c *Config) defaults() {
	if c.SessionIdle == 0 {
		c.SessionIdle = time.Hour
	}
	if c.SessionMax == 0 {
		c.SessionMax = 12 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Background == nil {
		c.Background = context.Background()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is the portal's HTTP handler with its route table.
type Server struct {
	*echo.Echo
	Routes []Route
}

// New builds the portal on st.
func New(st *store.Store, cfg Config) *Server {
	cfg.defaults()
	m := cfg.Metrics
	if m == nil {
		m = metrics.New(st, cfg.Now, cfg.Logger)
	}
	deps := handlers.Deps{Store: st, Logger: cfg.Logger, Background: cfg.Background, Now: cfg.Now, WriteStall: cfg.WriteStall, Metrics: m}
	sessions := newSessionStore(st, !cfg.InsecureCookies, cfg.SessionIdle, cfg.SessionMax, cfg.Now)
	// A nil *OIDC must reach the handlers as a nil interface.
	var provider handlers.SignInProvider
	auth := &handlers.Auth{Deps: deps, Sessions: sessions, Limiter: handlers.NewLimiter()}
	if cfg.OIDC != nil {
		provider = cfg.OIDC
		auth.SSO, auth.BreakGlass = cfg.OIDC.Label(), cfg.BreakGlass
	}
	h := handlerSet{
		health:    &handlers.Health{Deps: deps},
		auth:      auth,
		sso:       &handlers.SSO{Deps: deps, Sessions: sessions, Provider: provider, BreakGlass: auth.BreakGlass},
		users:     &handlers.Users{Deps: deps, Provider: provider},
		devices:   &handlers.Devices{Deps: deps},
		discovery: &handlers.Discovery{Deps: deps},
		audit:     &handlers.Audit{Deps: deps},
		groups:    &handlers.Groups{Deps: deps},
		api:       &handlers.API{Deps: deps},
		tokens:    &handlers.Tokens{Deps: deps},
		imports:   handlers.NewImports(deps),
		releases:  &handlers.Releases{Deps: deps},
		reports:   &handlers.Reports{Deps: deps},
		overview:  &handlers.Overview{Deps: deps, DiscoveryInterval: cfg.DiscoveryInterval},
		tenant:    &handlers.Tenant{Deps: deps, SignIn: store.SignInSetup{SSO: cfg.OIDC != nil, BreakGlass: cfg.OIDC != nil && cfg.BreakGlass}},
		webhooks:  &handlers.Webhooks{Deps: deps},
		support:   &handlers.Support{Deps: deps},
		unenroll:  &handlers.Unenroll{Deps: deps},
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(cfg.Logger)
	// The client address is the peer's: forwarding headers are not trusted,
	// so nobody can dodge the sign-in limiter or forge the audit log's
	// addresses. (Behind a reverse proxy, configure it to connect from a
	// fixed address; see README.)
	e.IPExtractor = echo.ExtractIPDirect()

	// Order matters: recover first so nothing escapes, the request ID before
	// the log line that carries it, CSRF before anything reads a form.
	e.Use(middleware.Recover())
	e.Use(middleware.RequestID())
	e.Use(requestLog(cfg.Logger, m))
	e.Use(securityHeaders(cfg.HTTPS))
	e.Use(compress)
	e.Use(limitBodies)      // before CSRF, which may read the form
	e.Use(csrfFromBodyOnly) // before CSRF, which reads "form:" from the URL too
	e.Use(middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf,header:X-CSRF-Token",
		CookieName:     "patchboard_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   !cfg.InsecureCookies,
		CookieSameSite: http.SameSiteLaxMode,
		// The API authenticates with a bearer token, never the cookie, so
		// there is no session for a forged request to ride on.
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			return p == "/healthz" || p == "/readyz" || isAPIPath(p)
		},
		ErrorHandler: func(err error, c echo.Context) error {
			req := c.Request()
			deps.Audit(c, store.AuditEntry{Actor: "address " + c.RealIP(), Action: "request.refused",
				Target: req.Method + " " + req.URL.Path, Outcome: store.OutcomeDenied,
				Detail: "CSRF check failed: no valid token and not a same-origin request"})
			return echo.NewHTTPError(http.StatusForbidden, "The form has expired or did not come from this site. Reload the page and try again.")
		},
	}))
	e.Use(loadUser(st, sessions, cfg.Logger))

	e.GET("/metrics", echo.WrapHandler(m.Handler(cfg.MetricsToken)))
	assets, _ := fs.Sub(static.FS, ".")
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", cacheAssets(noListing(http.FileServer(http.FS(assets)))))))

	table := routes(h)
	for _, r := range table {
		g := guard(deps, r.Access)
		if r.TokenAuth() {
			g = tokenGuard(deps, r.Access)
		}
		e.Add(r.Method, r.Path, r.Handler, g)
	}
	return &Server{Echo: e, Routes: table}
}

// securityHeaders forbids framing, sniffing and any script or style that
// does not come from /static; over TLS, it tells browsers never to use
// plain HTTP for the portal again (HSTS).
func securityHeaders(https bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			if https || c.Request().TLS != nil {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}
			return next(c)
		}
	}
}

// csrfFromBodyOnly drops a CSRF token from the query string: Echo's "form:"
// lookup reads the URL too, and a token in a URL leaks through logs,
// history and Referer headers.
func csrfFromBodyOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if q := req.URL.Query(); q.Has("_csrf") {
			q.Del("_csrf")
			req.URL.RawQuery = q.Encode()
		}
		return next(c)
	}
}

// noListing answers 404 for a directory of /static instead of listing it.
func noListing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func cacheAssets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// requestLog writes one line per request (schema in the README) and
// counts it for /metrics: the request ID, who (a user's email, an API
// token's name, "" when signed out), the route's pattern, the method, the
// path, the status and the duration.
func requestLog(log *slog.Logger, m *metrics.Metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // the error handler writes the response once
			}
			took := time.Since(start)
			req := c.Request()
			route := c.Path()
			if route == "" {
				route = "unmatched" // a 404: its URL would make a label per probe
			}
			status := c.Response().Status
			m.ObserveRequest(route, req.Method, status, took)
			log.LogAttrs(req.Context(), slog.LevelInfo, "request",
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
				slog.String("user", requestUser(c)), slog.String("route", route),
				slog.String("method", req.Method), slog.String("path", req.URL.Path),
				slog.Int("status", status), slog.Int64("bytes", c.Response().Size),
				slog.Float64("duration_ms", float64(took.Microseconds())/1000))
			return nil
		}
	}
}

// requestUser names who made the request: the signed-in user's email, or
// the API token's actor.
func requestUser(c echo.Context) string {
	if u, ok := views.User(c.Request().Context()); ok {
		return u.Email
	}
	if t, ok := handlers.TokenFrom(c.Request().Context()); ok {
		return t.Actor()
	}
	return ""
}

// compress gzips pages, fragments, JSON and downloads for clients that
// accept it (klauspost/compress's gzhttp, at the fastest level); /metrics
// compresses itself, and small answers are sent as they are. On loopback
// compression was half the CPU of a full blade page at the standard
// library's level 5, and a third at its fastest; this one costs about half
// of that again, for the same size. A million-row export is a hundred
// megabytes, where speed matters more than the last few per cent.
var compress = func() echo.MiddlewareFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.CompressionLevel(gzip.BestSpeed), gzhttp.EnableZstd(false))
	if err != nil {
		panic(err) // the options are constants
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().URL.Path == "/metrics" {
				return next(c)
			}
			res := c.Response()
			plain := res.Writer
			defer func() { res.Writer = plain }()
			wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res.Writer = w
				c.SetRequest(r)
				// An error's page is written here, through the compressing
				// writer, before the wrapper closes it.
				if err := next(c); err != nil {
					c.Error(err)
				}
			})).ServeHTTP(plain, c.Request())
			return nil
		}
	}
}()

// loadUser puts the CSRF token and the signed-in user (if any) into the
// request context, where views and the guard find them.
func loadUser(st *store.Store, sessions *sessionStore, log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if isAPIPath(req.URL.Path) {
				return next(c) // the API never reads the session: tokenGuard authenticates
			}
			// One version of the database for the request's reads (the
			// session first of all): see store.WithVersionScope.
			ctx := store.WithVersionScope(req.Context())
			req = req.WithContext(ctx)
			c.SetRequest(req)
			if tok, ok := c.Get(middleware.DefaultCSRFConfig.ContextKey).(string); ok {
				ctx = views.WithCSRF(ctx, tok)
			}
			sess, err := sessions.Get(req, sessionCookie)
			if err != nil {
				// Served as signed out; say why once.
				log.Warn("session not read", "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "error", err.Error())
			}
			if err == nil && !sess.IsNew {
				if uid, _ := sess.Values["user_id"].(int64); uid != 0 {
					u, err := st.UserByID(ctx, uid)
					switch {
					case err == nil:
						ctx = views.WithUser(ctx, u)
						if err := sessions.touch(req, sess); err != nil {
							// The request goes on; a session whose activity
							// could not be recorded may expire early.
							log.Warn("session activity not recorded", "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "error", err.Error())
						}
						// The banner of open Critical alerts is on every
						// page; a failed count only hides it.
						if n, err := st.OpenCriticalAlerts(ctx); err == nil {
							ctx = views.WithCriticalAlerts(ctx, n)
						}
						// So is the pending unenrollment's (kept per commit too).
						if u, pending, err := st.PendingUnenrollment(ctx); err == nil && pending {
							ctx = views.WithUnenrollment(ctx, u.DueAt)
						}
					case !errors.Is(err, store.ErrNotFound):
						return err
					}
				}
			}
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

// guard enforces a route's access level: sign-in first (a redirect for
// pages, 401 with HX-Redirect for htmx), then a role, then the permission.
// Refusals are audit-logged.
func guard(deps handlers.Deps, need store.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if need == Public {
				return next(c)
			}
			// Signed-in pages are never cached, so Back after sign-out
			// shows nothing of them.
			c.Response().Header().Set("Cache-Control", "no-store")
			req := c.Request()
			u, ok := views.User(req.Context())
			if !ok {
				login := "/login"
				if req.Method == http.MethodGet {
					login += "?next=" + url.QueryEscape(req.URL.RequestURI())
				}
				if req.Header.Get("HX-Request") == "true" {
					c.Response().Header().Set("HX-Redirect", login)
					return c.NoContent(http.StatusUnauthorized)
				}
				if req.Method != http.MethodGet {
					return echo.NewHTTPError(http.StatusUnauthorized, "Sign in first.")
				}
				return c.Redirect(http.StatusSeeOther, login)
			}
			if need == SignedIn {
				return next(c)
			}
			if u.Role == store.RoleNone {
				deps.Audit(c, store.AuditEntry{Actor: u.Email, Action: "request.refused",
					Target: req.Method + " " + req.URL.Path, Outcome: store.OutcomeDenied, Detail: "no Patchboard role"})
				return handlers.Render(c, http.StatusForbidden, views.NoAccessPage(u.Email, ""))
			}
			if !u.Role.Can(need) {
				deps.Audit(c, store.AuditEntry{Actor: u.Email, Action: "request.refused",
					Target: req.Method + " " + req.URL.Path, Outcome: store.OutcomeDenied,
					Detail: fmt.Sprintf("%s may not %s", u.Role.Label(), need)})
				return echo.NewHTTPError(http.StatusForbidden,
					fmt.Sprintf("Your role, %s, does not allow you to %s. Ask a Global Administrator if you need to.", u.Role.Label(), need))
			}
			return next(c)
		}
	}
}

// plainMessage is what a person reads for an Echo error: its own message,
// or for Echo's bare status texts ("Not Found") a sentence saying what to do.
func plainMessage(status int, m any) string {
	if s, ok := m.(string); ok && s != http.StatusText(status) {
		return s
	}
	switch status {
	case http.StatusNotFound:
		return "There is no page at this address. It may have moved: use the navigation to find what you need."
	case http.StatusMethodNotAllowed:
		return "This address does not take that kind of request. Go back and use the page's own buttons."
	case http.StatusRequestEntityTooLarge:
		return "What was sent is too large."
	}
	return "The request could not be completed. Go back and try again."
}

// refusal is the sentence a store refusal carries for the person, or a
// generic one when it carries none.
func refusal(err error) string {
	if msg := store.Message(err); msg != "" {
		return msg
	}
	return "The request could not be completed. Go back and try again."
}

// errorHandler maps errors to responses once: store sentinels to their
// statuses with the store's message, anything else to a logged 500 with a
// generic message. htmx requests get a fragment, pages a page.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if handlers.IsAPI(c) {
			handlers.WriteAPIError(c, err, log)
			return
		}
		status, msg := http.StatusInternalServerError, "Something went wrong. The error was logged; try again."
		var he *echo.HTTPError
		switch {
		case errors.As(err, &he):
			status = he.Code
			msg = plainMessage(status, he.Message)
		case errors.Is(err, store.ErrNotFound):
			status, msg = http.StatusNotFound, refusal(err)
		case errors.Is(err, store.ErrForbidden):
			status, msg = http.StatusForbidden, refusal(err)
		case errors.Is(err, store.ErrInvalid):
			status, msg = http.StatusUnprocessableEntity, refusal(err)
		case errors.Is(err, store.ErrConflict):
			status, msg = http.StatusConflict, refusal(err)
		case errors.Is(err, store.ErrBusy):
			status, msg = http.StatusServiceUnavailable, refusal(err)
			c.Response().Header().Set(echo.HeaderRetryAfter, handlers.RetryAfterBusy)
		}
		if status >= 500 {
			log.Error("request failed", slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
				slog.String("path", c.Request().URL.Path), slog.String("error", err.Error()))
		}
		var werr error
		defer func() {
			if werr != nil {
				log.Debug("error response not sent", slog.String("path", c.Request().URL.Path), slog.String("error", werr.Error()))
			}
		}()
		if c.Request().Method == http.MethodHead {
			werr = c.NoContent(status)
			return
		}
		if handlers.IsFragment(c) {
			// The message goes to the toast area whatever the request
			// targeted: a 422 is swapped, and swapped into its own target it
			// would replace the blade with one line.
			h := c.Response().Header()
			h.Set("HX-Retarget", "#toast")
			h.Set("HX-Reswap", "beforeend")
			werr = handlers.Render(c, status, views.ErrorFragment(msg))
			return
		}
		werr = handlers.Render(c, status, views.ErrorPage(status, http.StatusText(status), msg))
	}
}
