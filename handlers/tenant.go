package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Tenant is the tenant operations area (SPEC §13): the alerts, the admin
// contacts and the readiness assessment.
type Tenant struct {
	Deps
	// SignIn is how people sign in to this server, for the readiness
	// assessment.
	SignIn store.SignInSetup
}

// Alerts lists the open and the latest resolved tenant alerts, and the
// alert settings.
func (h *Tenant) Alerts(c echo.Context) error {
	v := views.AlertsView{}
	if c.QueryParam("restored") != "" {
		v.Message = "Patchboard's ring groups and update ring policies were written back to the directory."
	}
	return h.renderAlerts(c, http.StatusOK, v)
}

func (h *Tenant) renderAlerts(c echo.Context, status int, v views.AlertsView) error {
	ctx := c.Request().Context()
	var err error
	if v.Open, v.Resolved, err = h.Store.Alerts(ctx); err != nil {
		return err
	}
	if v.Settings, err = h.Store.AlertSettings(ctx); err != nil {
		return err
	}
	v.Now = h.Now()
	return Render(c, status, views.AlertsPage(v))
}

// SaveAlertSettings saves the jump threshold; a refused value comes back
// with the input and a message by the field.
func (h *Tenant) SaveAlertSettings(c echo.Context) error {
	raw := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(c.FormValue("jump_percent")), "%"))
	pct, convErr := strconv.Atoi(raw)
	if convErr != nil {
		pct = 0 // refused below with the same message as an out-of-range number
	}
	err := h.Store.SaveAlertSettings(c.Request().Context(), store.AlertSettings{JumpPercent: pct}, Actor(c), h.Now())
	var ve *store.ValidationError
	switch {
	case err == nil:
		return h.renderAlerts(c, http.StatusOK, views.AlertsView{Message: "The jump threshold is now " + strconv.Itoa(pct) + " % of the registered devices."})
	case errors.As(err, &ve):
		v := views.AlertsView{SettingsInput: c.FormValue("jump_percent"), SettingsError: "The jump threshold " + ve.Errors[0].Reason + "."}
		return h.renderAlerts(c, http.StatusUnprocessableEntity, v)
	}
	return err
}

// RestoreRingSettings is the Restore action of a ring settings alert: a
// write-back of Patchboard's ring groups and policies now.
func (h *Tenant) RestoreRingSettings(c echo.Context) error {
	_, err := h.Store.RestoreRingSettings(c.Request().Context(), Actor(c), h.Now())
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, "/tenant/alerts?restored=1")
	case errors.Is(err, store.ErrInvalid):
		return err // its message says the write-back is off
	}
	h.Logger.Warn("restore ring settings", "error", err.Error())
	return h.renderAlerts(c, http.StatusBadGateway, views.AlertsView{
		Error: "The ring groups and policies could not be written back: the write-back failed. The Microsoft Graph alert below says why; try Restore again once it is fixed."})
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

// Readiness shows an assessment (the latest, or ?id=) and the list of the
// last 12 months.
func (h *Tenant) Readiness(c echo.Context) error {
	ctx := c.Request().Context()
	v := views.ReadinessView{}
	var err error
	if v.History, err = h.Store.Assessments(ctx); err != nil {
		return err
	}
	switch s := c.QueryParam("id"); {
	case s != "":
		id, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			return echo.NewHTTPError(http.StatusNotFound, "No such assessment.")
		}
		a, err := h.Store.Assessment(ctx, id)
		if err != nil {
			return err
		}
		v.Shown = &a
	case len(v.History) > 0:
		a := v.History[0]
		v.Shown = &a
	}
	return Render(c, http.StatusOK, views.ReadinessPage(v))
}

// RunReadiness runs the assessment now and shows it.
func (h *Tenant) RunReadiness(c echo.Context) error {
	a, err := h.Store.RunReadiness(c.Request().Context(), h.SignIn, store.TriggerButton, Actor(c), h.Now())
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/tenant/readiness?id="+strconv.FormatInt(a.ID, 10))
}
