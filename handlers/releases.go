package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Releases serves Release management: releases, expedite, pauses, ring
// schedules and the feature update target. Every change answers with the
// refreshed board (htmx) or sends the browser back to the page.
type Releases struct{ Deps }

// Page is the Release management page.
func (h *Releases) Page(c echo.Context) error {
	return h.board(c, "")
}

// board renders the board after a change (message) or for the page.
func (h *Releases) board(c echo.Context, message string) error {
	b, err := h.Store.ReleaseBoard(c.Request().Context(), h.Now())
	if err != nil {
		return err
	}
	v := views.ReleasesView{Board: b, Message: message}
	if IsFragment(c) {
		return Render(c, http.StatusOK, views.ReleaseBoard(v))
	}
	if c.Request().Method == http.MethodPost {
		return c.Redirect(http.StatusSeeOther, "/releases")
	}
	return Render(c, http.StatusOK, views.ReleasesPage(v))
}

// Add adds a quality release.
func (h *Releases) Add(c echo.Context) error {
	date, err := store.ParseDay(c.FormValue("date"))
	if err != nil {
		return err
	}
	class, err := store.ParseClassification(c.FormValue("classification"))
	if err != nil {
		return err
	}
	builds, err := store.ParseBuilds(c.FormValue("builds"))
	if err != nil {
		return err
	}
	rel, err := h.Store.AddRelease(c.Request().Context(), store.NewRelease{Name: c.FormValue("name"), Date: date,
		Classification: class, Builds: builds}, Actor(c), h.Now())
	if err != nil {
		return err
	}
	return h.board(c, fmt.Sprintf("Added release %s (%s).", rel.Name, rel.BuildsText()))
}

// Import adds the releases of an uploaded CSV (the format of `patchboard
// release import`), all or nothing. A refused file is audited and answered
// with the board showing every wrong row and field (422).
func (h *Releases) Import(c echo.Context) error {
	fh, err := c.FormFile("file")
	if err != nil {
		return h.uploadRefused(c, "", &store.ValidationError{Errors: []store.FieldError{{Reason: "choose a CSV file of releases to upload"}}})
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer closeRead(f)
	added, err := h.Store.ImportReleases(c.Request().Context(), f, Actor(c), h.Now())
	if err == nil {
		names := make([]string, len(added))
		for i, r := range added {
			names[i] = r.Name
		}
		return h.board(c, fmt.Sprintf("Added %d release(s) from %s: %s.", len(added), fh.Filename, strings.Join(names, ", ")))
	}
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
	case errors.Is(err, store.ErrInvalid): // the file as a whole: not a releases CSV, no rows
		ve = &store.ValidationError{Errors: []store.FieldError{{Reason: store.Message(err)}}}
	default:
		return err
	}
	h.Audit(c, store.AuditEntry{Actor: Actor(c), Action: store.ActionReleaseAdd, Target: fh.Filename, Outcome: store.OutcomeFailure,
		Detail: "releases CSV refused, nothing added: " + ve.Error()})
	return h.uploadRefused(c, fh.Filename, ve)
}

// uploadRefused answers a refused upload with the board showing its
// problems (422).
func (h *Releases) uploadRefused(c echo.Context, file string, ve *store.ValidationError) error {
	b, err := h.Store.ReleaseBoard(c.Request().Context(), h.Now())
	if err != nil {
		return err
	}
	v := views.ReleasesView{Board: b, UploadErrors: ve.Errors, UploadMore: ve.Truncated, UploadFile: file}
	if IsFragment(c) {
		return Render(c, http.StatusUnprocessableEntity, views.ReleaseBoard(v))
	}
	return Render(c, http.StatusUnprocessableEntity, views.ReleasesPage(v))
}

// Expedite puts a release on the expedited schedule in every ring.
func (h *Releases) Expedite(c echo.Context) error {
	rel, err := h.Store.ExpediteRelease(c.Request().Context(), c.Param("id"), Actor(c), h.Now())
	if err != nil {
		return err
	}
	return h.board(c, fmt.Sprintf("Expedited %s: every ring is offered it now, due in a day.", rel.Name))
}

// ringsAndKind reads the ring (or all) and kind fields of a pause form.
func ringsAndKind(ring, kind string) ([]store.Ring, store.UpdateKind, error) {
	rings, err := store.ParseRings(ring)
	if err != nil {
		return nil, "", err
	}
	k, err := store.ParseUpdateKind(kind)
	return rings, k, err
}

// Pause pauses a ring (or all) for quality or feature updates.
func (h *Releases) Pause(c echo.Context) error {
	rings, kind, err := ringsAndKind(c.FormValue("ring"), c.FormValue("kind"))
	if err != nil {
		return err
	}
	ps, err := h.Store.PauseRings(c.Request().Context(), rings, kind, c.FormValue("reason"), Actor(c), h.Now())
	if err != nil {
		return err
	}
	return h.board(c, fmt.Sprintf("Paused %s updates in %s until %s.", kind, ringNames(ps), ps[0].Until.Format("2006-01-02")))
}

// Resume ends a ring's (or every ring's) pause.
func (h *Releases) Resume(c echo.Context) error {
	rings, kind, err := ringsAndKind(c.FormValue("ring"), c.FormValue("kind"))
	if err != nil {
		return err
	}
	ps, err := h.Store.ResumeRings(c.Request().Context(), rings, kind, Actor(c), h.Now())
	if err != nil {
		return err
	}
	return h.board(c, fmt.Sprintf("Resumed %s updates in %s.", kind, ringNames(ps)))
}

func ringNames(ps []store.Pause) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Ring.Label()
	}
	return strings.Join(names, ", ")
}

// formDays reads a whole number of days.
func formDays(c echo.Context, name, label string) (int, error) {
	v := strings.TrimSpace(c.FormValue(name))
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, store.Invalidf("the %s must be a whole number of days, not %q", label, v)
	}
	return n, nil
}

// Schedule saves a ring's schedule.
func (h *Releases) Schedule(c echo.Context) error {
	ring, err := store.ParseRing(c.FormValue("ring"))
	if err != nil {
		return err
	}
	sc := store.Schedule{Ring: ring, GateEnabled: c.FormValue("gate") == "on"}
	for _, f := range []struct {
		name, label string
		dst         *int
	}{
		{"deferral", "deferral", &sc.QualityDeferral}, {"deadline", "deadline", &sc.QualityDeadline},
		{"grace", "grace period", &sc.QualityGrace}, {"feature_deferral", "feature deferral", &sc.FeatureDeferral},
		{"gate_percent", "rollout gate share", &sc.GatePercent},
	} {
		if *f.dst, err = formDays(c, f.name, f.label); err != nil {
			return err
		}
	}
	if err := h.Store.SetSchedule(c.Request().Context(), sc, Actor(c), h.Now()); err != nil {
		return err
	}
	return h.board(c, fmt.Sprintf("Saved the %s ring's schedule.", ring.Label()))
}

// Feature sets the feature update target.
func (h *Releases) Feature(c echo.Context) error {
	build, err := strconv.Atoi(strings.TrimSpace(c.FormValue("build")))
	if err != nil {
		return store.Invalidf("the build line must be a number such as 26100")
	}
	start, err := store.ParseDay(c.FormValue("start"))
	if err != nil {
		return err
	}
	ft, err := h.Store.SetFeatureTarget(c.Request().Context(), build, start, Actor(c), h.Now())
	if err != nil {
		return err
	}
	return h.board(c, fmt.Sprintf("Feature update target %d from %s.", ft.Build, ft.Start.Format("2006-01-02")))
}
