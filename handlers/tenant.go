package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Tenant is the tenant operations area (SPEC §13): the alerts and the admin
// contacts.
type Tenant struct{ Deps }

// Alerts lists the open and the latest resolved tenant alerts.
func (h *Tenant) Alerts(c echo.Context) error {
	open, resolved, err := h.Store.Alerts(c.Request().Context())
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.AlertsPage(views.AlertsView{Open: open, Resolved: resolved, Now: h.Now()}))
}

// Contacts lists the admin contacts; ?edit=ID fills the form with one of
// them for an editor.
func (h *Tenant) Contacts(c echo.Context) error {
	v := views.ContactsView{Form: store.Contact{Area: store.AreaDevices, Language: "en"}}
	if s := c.QueryParam("edit"); s != "" && CurrentUser(c).Role.Can(store.PermEditContacts) {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusNotFound, "No such contact.")
		}
		if v.Form, err = h.Store.Contact(c.Request().Context(), id); err != nil {
			return err
		}
	}
	if c.QueryParam("deleted") != "" {
		v.Saved = "The contact was deleted."
	}
	return h.renderContacts(c, http.StatusOK, v)
}

func (h *Tenant) renderContacts(c echo.Context, status int, v views.ContactsView) error {
	var err error
	if v.Contacts, err = h.Store.Contacts(c.Request().Context()); err != nil {
		return err
	}
	return Render(c, status, views.ContactsPage(v))
}

// SaveContact adds a contact (no id) or replaces one. A refused form comes
// back with the person's input and a message by each wrong field.
func (h *Tenant) SaveContact(c echo.Context) error {
	form := store.Contact{
		Name: c.FormValue("name"), Email: c.FormValue("email"), Phone: c.FormValue("phone"),
		Language: c.FormValue("language"), Area: store.Area(c.FormValue("area")), Description: c.FormValue("description"),
	}
	if s := c.FormValue("id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusNotFound, "No such contact.")
		}
		form.ID = id
	}
	saved, err := h.Store.SaveContact(c.Request().Context(), form, Actor(c), h.Now())
	v := views.ContactsView{Form: store.Contact{Area: store.AreaDevices, Language: "en"}}
	var ve *store.ValidationError
	switch {
	case err == nil:
		v.Saved = saved.Name + " (" + saved.Email + ") was saved as a contact for " + saved.Area.Label() + "."
		return h.renderContacts(c, http.StatusOK, v)
	case errors.As(err, &ve):
		v.Form, v.Errors = form, ve.Errors
	case errors.Is(err, store.ErrConflict):
		v.Form, v.Error = form, store.Message(err)
	default:
		return err
	}
	return h.renderContacts(c, http.StatusUnprocessableEntity, v)
}

// DeleteContact removes a contact and goes back to the list.
func (h *Tenant) DeleteContact(c echo.Context) error {
	id, err := strconv.ParseInt(c.FormValue("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such contact.")
	}
	if err := h.Store.DeleteContact(c.Request().Context(), id, Actor(c), h.Now()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/tenant/contacts?deleted=1")
}
