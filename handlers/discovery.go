package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Discovery starts discovery runs from the portal and reports their progress.
type Discovery struct{ Deps }

// statusStopPolling tells htmx to stop an "every 1s" trigger.
const statusStopPolling = 286

// Start begins a run in the background, or joins the one going, and answers
// with the progress banner, which polls until the run ends.
func (h *Discovery) Start(c echo.Context) error {
	id, err := h.Store.StartDiscovery(h.Background, store.TriggerButton, Actor(c), h.Now())
	if err != nil {
		return err
	}
	run, err := h.Store.DiscoveryRunByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if IsFragment(c) {
		return Render(c, http.StatusOK, views.DiscoveryProgress(&run, h.Now()))
	}
	return c.Redirect(http.StatusSeeOther, "/devices")
}

// Progress reports a run; when it has ended it stops the polling and tells
// the page to refresh the blades.
func (h *Discovery) Progress(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such discovery run.")
	}
	run, err := h.Store.DiscoveryRunByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if run.State != store.RunRunning {
		status = statusStopPolling
		c.Response().Header().Set("HX-Trigger", "devices-changed")
	}
	return Render(c, status, views.DiscoveryProgress(&run, h.Now()))
}
