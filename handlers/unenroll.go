package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Unenroll is the unenrollment page (SPEC §13, Global Administrators): the
// full export, the organisation's name, the request and its cancellation.
type Unenroll struct{ Deps }

// Page shows where the unenrollment stands.
func (h *Unenroll) Page(c echo.Context) error {
	return h.render(c, http.StatusOK, views.UnenrollView{})
}

func (h *Unenroll) render(c echo.Context, status int, v views.UnenrollView) error {
	ctx := c.Request().Context()
	var err error
	if v.OrgName, err = h.Store.OrganisationName(ctx); err != nil {
		return err
	}
	if v.Latest, err = h.Store.Unenrollment(ctx); err != nil {
		return err
	}
	v.Now = h.Now()
	return Render(c, status, views.UnenrollPage(v))
}

// SaveOrganisation saves the organisation's name.
func (h *Unenroll) SaveOrganisation(c echo.Context) error {
	return h.step(c, "The organisation's name was saved.", h.Store.SetOrganisationName(c.Request().Context(), c.FormValue("name"), Actor(c), h.Now()))
}

// Request starts the 14-day wait.
func (h *Unenroll) Request(c echo.Context) error {
	u, err := h.Store.RequestUnenrollment(c.Request().Context(), c.FormValue("confirm"), Actor(c), h.Now())
	return h.step(c, fmt.Sprintf("Unenrollment requested. Every device is deregistered on %s UTC unless a Global Administrator cancels.",
		u.DueAt.Format("2 Jan 2006 15:04")), err)
}

// Cancel ends the pending request.
func (h *Unenroll) Cancel(c echo.Context) error {
	return h.step(c, "The unenrollment was cancelled. Nothing was removed.", h.Store.CancelUnenrollment(c.Request().Context(), Actor(c), h.Now()))
}

// step shows the page after a change: what was done, or why not.
func (h *Unenroll) step(c echo.Context, done string, err error) error {
	switch {
	case err == nil:
		return h.render(c, http.StatusOK, views.UnenrollView{Saved: done})
	case errors.Is(err, store.ErrInvalid):
		return h.render(c, http.StatusUnprocessableEntity, views.UnenrollView{Error: store.Message(err)})
	case errors.Is(err, store.ErrConflict):
		return h.render(c, http.StatusConflict, views.UnenrollView{Error: store.Message(err)})
	}
	return err
}

// Export downloads the full export, a ZIP of CSVs, streamed.
func (h *Unenroll) Export(c echo.Context) error {
	now := h.Now()
	dl := newDownload(c, fmt.Sprintf("patchboard-export-%s.zip", now.UTC().Format("2006-01-02")), "application/zip", h.WriteStall)
	defer dl.done()
	n, err := h.Store.ExportTenant(c.Request().Context(), dl, now)
	if err != nil && !c.Response().Committed {
		return err // nothing was sent: the user gets the error's page
	}
	outcome := store.OutcomeSuccess
	if err != nil {
		outcome = store.OutcomeFailure
		h.Logger.Error("tenant export failed", "error", err.Error())
	}
	h.Metrics.AddExportRows("tenant", n)
	h.Audit(c, store.AuditEntry{Actor: Actor(c), Action: store.ActionUnenrollExport, Target: "full export", Outcome: outcome,
		Detail: fmt.Sprintf("%d rows", n)})
	return nil
}
