package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Users is /settings/users: Global Administrators list the accounts, set
// local accounts' roles, disable accounts, sign them out everywhere,
// create local accounts and edit the role map. Every change is audited by
// the store.
type Users struct {
	Deps
	Provider SignInProvider // nil: single sign-on is not configured
}

func (h *Users) page(c echo.Context, status int, v views.UsersView) error {
	ctx := c.Request().Context()
	var err error
	if v.Accounts, err = h.Store.Accounts(ctx, h.Now()); err != nil {
		return err
	}
	if v.Saved, err = h.Store.RoleMapSetting(ctx); err != nil {
		return err
	}
	v.RoleMap = v.Saved.Map
	if h.Provider != nil {
		v.SSO = h.Provider.Label()
		if !v.Saved.Saved {
			v.RoleMap = h.Provider.RoleMap()
		}
	}
	v.Now, v.Me = h.Now(), CurrentUser(c).ID
	if v.Role == "" {
		v.Role = store.RoleServiceReader
	}
	return Render(c, status, views.UsersPage(v))
}

// List shows the page.
func (h *Users) List(c echo.Context) error { return h.page(c, http.StatusOK, views.UsersView{}) }

// refused shows the page with the store's reason for a refused change, or
// returns any other error.
func (h *Users) refused(c echo.Context, err error, v views.UsersView) error {
	status := http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, store.ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case !errors.Is(err, store.ErrInvalid):
		return err
	}
	v.Error = store.Message(err)
	return h.page(c, status, v)
}

func (h *Users) done(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/settings/users") }

func userID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.FormValue("user_id"), 10, 64)
	if err != nil {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such account.")
	}
	return id, nil
}

// Create makes a local account and shows its one-time password, this once:
// the page answers the POST, so the password is in no URL and no history.
func (h *Users) Create(c echo.Context) error {
	email, role := c.FormValue("email"), store.Role(c.FormValue("role"))
	u, password, err := h.Store.CreateLocalUser(c.Request().Context(), email, role, Actor(c))
	if err != nil {
		return h.refused(c, err, views.UsersView{Email: email, Role: role})
	}
	return h.page(c, http.StatusOK, views.UsersView{Created: &u, Password: password})
}

// SetRole changes a local account's role.
func (h *Users) SetRole(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	role, err := store.ParseRole(c.FormValue("role"))
	if err == nil {
		err = h.Store.SetUserRole(c.Request().Context(), id, role, CurrentUser(c))
	}
	if err != nil {
		return h.refused(c, err, views.UsersView{})
	}
	return h.done(c)
}

// Disable disables an account and ends its sessions.
func (h *Users) Disable(c echo.Context) error { return h.setDisabled(c, true) }

// Enable lets a disabled account sign in again.
func (h *Users) Enable(c echo.Context) error { return h.setDisabled(c, false) }

func (h *Users) setDisabled(c echo.Context, disable bool) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	if err := h.Store.SetUserDisabled(c.Request().Context(), id, disable, CurrentUser(c)); err != nil {
		return h.refused(c, err, views.UsersView{})
	}
	return h.done(c)
}

// SignOut ends every session of an account.
func (h *Users) SignOut(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	if _, err := h.Store.SignOutEverywhere(c.Request().Context(), id, Actor(c)); err != nil {
		return h.refused(c, err, views.UsersView{})
	}
	if id == CurrentUser(c).ID {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return h.done(c)
}

// SaveRoleMap saves the portal's role map, which wins from now on.
func (h *Users) SaveRoleMap(c echo.Context) error {
	text := c.FormValue("role_map")
	if _, err := h.Store.SaveRoleMap(c.Request().Context(), text, Actor(c)); err != nil {
		if !errors.Is(err, store.ErrInvalid) {
			return err
		}
		return h.page(c, http.StatusUnprocessableEntity, views.UsersView{MapText: text, MapError: store.Message(err)})
	}
	return h.done(c)
}
