package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"patchboard/handlers"
	"patchboard/store"
)

// isAPIPath reports whether a path belongs to the registration API, whose
// requests authenticate with a bearer token, never with the session cookie.
// Because a browser never adds the Authorization header on its own, a
// cross-site request cannot use a token, and the API needs no CSRF check.
func isAPIPath(path string) bool { return strings.HasPrefix(path, handlers.APIPrefix) }

// TokenAuth reports whether the route is part of the API: authenticated by
// an API token, whose role's grants must include the route's Access.
func (r Route) TokenAuth() bool { return isAPIPath(r.Path) }

// tokenGuard enforces an API route's access: a valid bearer token first
// (401 otherwise), then the token role's permission (403, audited).
// Failed authentications with a token are audited too, like failed sign-ins.
func tokenGuard(deps handlers.Deps, need store.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", "no-store")
			req := c.Request()
			ctx := req.Context()
			scheme, value, _ := strings.Cut(strings.TrimSpace(req.Header.Get(echo.HeaderAuthorization)), " ")
			value = strings.TrimSpace(value)
			if !strings.EqualFold(scheme, "Bearer") || value == "" {
				return handlers.NewAPIError(http.StatusUnauthorized,
					"send an API token in the Authorization header: Authorization: Bearer pbt_…")
			}
			tok, err := deps.Store.TokenByValue(ctx, value, deps.Now())
			var te *store.TokenError
			if errors.As(err, &te) {
				actor := "unknown token"
				if te.Token.ID != 0 {
					actor = te.Token.Actor()
				}
				deps.Audit(c, store.AuditEntry{Actor: actor, Action: "api.auth", Target: req.Method + " " + req.URL.Path,
					Outcome: store.OutcomeFailure, Detail: te.Reason})
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="patchboard", error="invalid_token"`)
				return handlers.NewAPIError(http.StatusUnauthorized, te.Reason)
			}
			if err != nil {
				return err
			}
			c.SetRequest(req.WithContext(handlers.WithToken(ctx, tok)))
			if !tok.Can(need) {
				deps.Audit(c, store.AuditEntry{Actor: tok.Actor(), Action: "request.refused",
					Target: req.Method + " " + req.URL.Path, Outcome: store.OutcomeDenied,
					Detail: fmt.Sprintf("API token with role %s may not %s", tok.Role.Label(), need)})
				return handlers.NewAPIError(http.StatusForbidden,
					fmt.Sprintf("the token's role (%s) does not allow this: it needs permission to %s", tok.Role.Label(), need))
			}
			return next(c)
		}
	}
}
