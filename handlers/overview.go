package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"patchboard/views"
)

// Overview serves the start page: the tabs' counts, the ring split, the top
// failing checks, the last and next discovery and the 30-day trend.
type Overview struct {
	Deps
	// DiscoveryInterval is the scheduler's period, to say when discovery
	// runs next; zero when this server schedules none.
	DiscoveryInterval time.Duration
}

// Show renders the overview.
func (h *Overview) Show(c echo.Context) error {
	now := h.Now()
	o, err := h.Store.Overview(c.Request().Context(), now)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.OverviewPage(views.OverviewView{Overview: o, Now: now, DiscoveryInterval: h.DiscoveryInterval}))
}
