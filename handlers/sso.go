package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// SignInProvider is an OpenID Connect provider people sign in with (web's
// goth and go-oidc wiring).
type SignInProvider interface {
	// Label is the sign-in button's text.
	Label() string
	// RoleMap is the configured role map (PATCHBOARD_OIDC_ROLE_MAP).
	RoleMap() store.RoleMap
	// Begin starts a flow for this browser, to end at the local path next,
	// and returns where to send the browser.
	Begin(c echo.Context, st *store.Store, next string) (string, error)
	// Finish checks the provider's answer and returns who signed in and the
	// next of Begin.
	Finish(c echo.Context, st *store.Store) (store.Identity, string, error)
}

// SignInError is a sign-in that failed for a reason the person can act on:
// Message is shown to them, Detail goes to the audit log and Cause (the
// library's own words, which name the failed check and never a token) to
// the server log.
type SignInError struct {
	Message string
	Detail  string
	Cause   error
}

func (e *SignInError) Error() string { return e.Detail }

// SSO handles single sign-on: /auth/oidc and its callback.
type SSO struct {
	Deps
	Sessions Sessions
	Provider SignInProvider // nil: single sign-on is not configured
	// BreakGlass: the password form is for Global Administrators only.
	BreakGlass bool
}

// Start sends the browser to the provider.
func (h *SSO) Start(c echo.Context) error {
	if h.Provider == nil {
		return echo.NewHTTPError(http.StatusNotFound, "Single sign-on is not configured. Sign in with your password.")
	}
	to, err := h.Provider.Begin(c, h.Store, safeNext(c.QueryParam("next")))
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// Callback finishes the sign-in: the account is found or created by issuer
// and subject, its role set from the role map (the portal's saved copy wins
// over the configured one), and a new session started. Someone the map
// gives no role is signed in to the no-access page, with the reason.
func (h *SSO) Callback(c echo.Context) error {
	if h.Provider == nil {
		return echo.NewHTTPError(http.StatusNotFound, "Single sign-on is not configured. Sign in with your password.")
	}
	ctx := c.Request().Context()
	id, next, err := h.Provider.Finish(c, h.Store)
	var se *SignInError
	if errors.As(err, &se) {
		attrs := []any{"reason", se.Detail, "address", c.RealIP()}
		if se.Cause != nil {
			attrs = append(attrs, "error", se.Cause.Error())
		}
		h.Logger.Warn("single sign-on refused", attrs...)
		h.Audit(c, store.AuditEntry{Actor: "single sign-on", Action: store.ActionSignIn, Target: c.RealIP(),
			Outcome: store.OutcomeFailure, Detail: se.Detail})
		return h.loginError(c, http.StatusUnauthorized, se.Message)
	}
	if err != nil {
		return err
	}
	roleMap := h.Provider.RoleMap()
	saved, err := h.Store.RoleMapSetting(ctx)
	if err != nil {
		return err
	}
	if saved.Saved {
		roleMap = saved.Map
	}
	u, _, err := h.Store.SignInSSO(ctx, id, roleMap, c.RealIP(), h.Now())
	if errors.Is(err, store.ErrDisabled) {
		return h.loginError(c, http.StatusForbidden, "Your Patchboard account is disabled. Ask a Global Administrator to enable it.")
	}
	if err != nil {
		return err
	}
	if err := h.Sessions.SignIn(c, u.ID); err != nil {
		return err
	}
	if u.Role == store.RoleNone {
		if id.GroupOverage {
			h.Logger.Warn("sign-in without groups: group overage", "user", u.Email,
				"hint", "the token names no groups because the person is in too many; map app roles instead")
		}
		ctx = views.WithUser(ctx, u)
		c.SetRequest(c.Request().WithContext(ctx))
		return Render(c, http.StatusForbidden, views.NoAccessPage(u.Email, noAccessReason(id)))
	}
	if next = safeNext(next); next == "" {
		next = views.StartPage
	}
	return c.Redirect(http.StatusSeeOther, next)
}

func noAccessReason(id store.Identity) string {
	if id.GroupOverage {
		return "You are in too many groups for the identity provider to list them in the sign-in token (group overage), so Patchboard cannot see your groups. Ask your administrator to give you a Patchboard app role (Patchboard.ServiceAdministrator or Patchboard.ServiceReader) instead."
	}
	return "None of your roles or groups at the identity provider gives a Patchboard role."
}

func (h *SSO) loginError(c echo.Context, status int, msg string) error {
	return Render(c, status, views.LoginPage(views.LoginView{Error: msg, SSO: h.Provider.Label(), BreakGlass: h.BreakGlass}))
}
