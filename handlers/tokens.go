package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Tokens is the settings page of API tokens: Global Administrators create,
// list and revoke them.
type Tokens struct{ Deps }

func (h *Tokens) view(c echo.Context, v views.TokensView) (views.TokensView, error) {
	tokens, err := h.Store.Tokens(c.Request().Context())
	v.Tokens, v.Now = tokens, h.Now()
	return v, err
}

// List shows the tokens.
func (h *Tokens) List(c echo.Context) error {
	v, err := h.view(c, views.TokensView{Role: store.RoleServiceReader})
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.TokensPage(v))
}

// Create makes a token and shows its value, this once. The page is the
// answer to the POST (not a redirect), so the value is in no URL, no
// session and no history entry that a reload would repeat.
func (h *Tokens) Create(c echo.Context) error {
	name := c.FormValue("name")
	role := store.Role(c.FormValue("role"))
	tok, value, err := h.Store.CreateToken(c.Request().Context(), name, role, Actor(c))
	status := http.StatusOK
	v := views.TokensView{Role: store.RoleServiceReader}
	switch {
	case err == nil:
		v.Created, v.Value = &tok, value
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrConflict):
		status, v.Error, v.Name, v.Role = http.StatusUnprocessableEntity, store.Message(err), name, role
	default:
		return err
	}
	if v, err = h.view(c, v); err != nil {
		return err
	}
	return Render(c, status, views.TokensPage(v))
}

// Revoke revokes a token and goes back to the list.
func (h *Tokens) Revoke(c echo.Context) error {
	id, err := strconv.ParseInt(c.FormValue("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such token.")
	}
	if _, err := h.Store.RevokeToken(c.Request().Context(), id, Actor(c)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/tokens")
}
