package handlers

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"patchboard/store"
)

// The update management API (SPEC §12): releases, ring schedules, pauses
// and the All devices report, with the same store calls as the portal.

type apiRingOffer struct {
	Ring      store.Ring `json:"ring"`
	State     string     `json:"state"`
	OfferAt   jsonTime   `json:"offer_at"`
	DueAt     jsonTime   `json:"due_at"`
	RestartAt jsonTime   `json:"restart_at"`
	Waiting   *string    `json:"waiting"`
}

type apiRelease struct {
	ID             int64                `json:"id"`
	Name           string               `json:"name"`
	Date           string               `json:"date"`
	Classification store.Classification `json:"classification"`
	Builds         []string             `json:"builds"`
	ExpeditedAt    *jsonTime            `json:"expedited_at"`
	ExpeditedBy    *string              `json:"expedited_by"`
	Rings          []apiRingOffer       `json:"rings,omitempty"`
	SLOOn          int                  `json:"slo_on"`
	SLOEligible    int                  `json:"slo_eligible"`
	SLOMeasuredAt  *jsonTime            `json:"slo_measured_at"`
}

func releaseJSON(r store.Release, offers []store.RingOffer) apiRelease {
	out := apiRelease{ID: r.ID, Name: r.Name, Date: r.Date.Format(time.DateOnly), Classification: r.Classification,
		Builds: make([]string, len(r.Builds)), ExpeditedAt: timeOrNull(r.ExpeditedAt), ExpeditedBy: stringOrNull(r.ExpeditedBy),
		SLOOn: r.SLOOn, SLOEligible: r.SLOEligible, SLOMeasuredAt: timeOrNull(r.SLOMeasured)}
	for i, b := range r.Builds {
		out.Builds[i] = b.String()
	}
	for _, o := range offers {
		out.Rings = append(out.Rings, apiRingOffer{Ring: o.Ring, State: string(o.State), OfferAt: jsonTime(o.OfferAt),
			DueAt: jsonTime(o.DueAt), RestartAt: jsonTime(o.RestartAt), Waiting: stringOrNull(o.Waiting)})
	}
	return out
}

// Releases lists the releases, newest first, with their offer in each ring.
func (h *API) Releases(c echo.Context) error {
	b, err := h.Store.ReleaseBoard(c.Request().Context(), h.Now())
	if err != nil {
		return err
	}
	out := struct {
		Releases []apiRelease `json:"releases"`
	}{Releases: make([]apiRelease, len(b.Releases))}
	for i, r := range b.Releases {
		out.Releases[i] = releaseJSON(r.Release, r.Rings)
	}
	return c.JSON(http.StatusOK, out)
}

// AddRelease adds a quality release.
func (h *API) AddRelease(c echo.Context) error {
	var body struct {
		Name           string   `json:"name"`
		Date           string   `json:"date"`
		Classification string   `json:"classification"`
		Builds         []string `json:"builds"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	var details []APIErrorDetail
	date, err := store.ParseDay(body.Date)
	if err != nil {
		details = append(details, APIErrorDetail{Pointer: "/date", Field: "date", Value: detailValue(body.Date), Reason: err.Error()})
	}
	class, err := store.ParseClassification(body.Classification)
	if err != nil {
		details = append(details, APIErrorDetail{Pointer: "/classification", Field: "classification", Value: detailValue(body.Classification), Reason: err.Error()})
	}
	var builds []store.BuildRevision
	for i, s := range body.Builds {
		b, err := store.ParseBuildRevision(s)
		if err != nil {
			details = append(details, APIErrorDetail{Pointer: "/builds/" + strconv.Itoa(i), Field: "builds", Value: detailValue(s), Reason: err.Error()})
		}
		builds = append(builds, b)
	}
	if len(details) > 0 {
		return NewAPIError(http.StatusUnprocessableEntity, "the release was rejected; nothing was written", details...)
	}
	rel, err := h.Store.AddRelease(c.Request().Context(), store.NewRelease{Name: body.Name, Date: date, Classification: class, Builds: builds},
		apiActor(c), h.Now())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/releases")
	return c.JSON(http.StatusCreated, releaseJSON(rel, nil))
}

// ExpediteRelease puts a release on the expedited schedule.
func (h *API) ExpediteRelease(c echo.Context) error {
	if err := h.emptyBody(c); err != nil {
		return err
	}
	rel, err := h.Store.ExpediteRelease(c.Request().Context(), c.Param("id"), apiActor(c), h.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, releaseJSON(rel, nil))
}

type apiSchedule struct {
	Ring            store.Ring `json:"ring"`
	QualityDeferral int        `json:"quality_deferral"`
	QualityDeadline int        `json:"quality_deadline"`
	QualityGrace    int        `json:"quality_grace"`
	FeatureDeferral int        `json:"feature_deferral"`
	GateEnabled     bool       `json:"gate_enabled"`
	GatePercent     int        `json:"gate_percent"`
}

func scheduleJSON(sc store.Schedule) apiSchedule {
	return apiSchedule{Ring: sc.Ring, QualityDeferral: sc.QualityDeferral, QualityDeadline: sc.QualityDeadline,
		QualityGrace: sc.QualityGrace, FeatureDeferral: sc.FeatureDeferral, GateEnabled: sc.GateEnabled, GatePercent: sc.GatePercent}
}

// ringParam reads the {ring} of the path; allowAll accepts "all".
func ringParam(c echo.Context, allowAll bool) ([]store.Ring, error) {
	v := c.Param("ring")
	if allowAll {
		if rs, err := store.ParseRings(v); err == nil {
			return rs, nil
		}
	} else if r, err := store.ParseRing(v); err == nil {
		return []store.Ring{r}, nil
	}
	return nil, NewAPIError(http.StatusNotFound, "ring "+strconv.Quote(v)+" was not found; rings are test, first, fast, broad")
}

func (h *API) schedule(c echo.Context, ring store.Ring) (store.Schedule, error) {
	scs, err := h.Store.Schedules(c.Request().Context())
	if err != nil {
		return store.Schedule{}, err
	}
	for _, sc := range scs {
		if sc.Ring == ring {
			return sc, nil
		}
	}
	return store.Schedule{}, store.ErrNotFound
}

// Schedule is a ring's schedule.
func (h *API) Schedule(c echo.Context) error {
	rings, err := ringParam(c, false)
	if err != nil {
		return err
	}
	sc, err := h.schedule(c, rings[0])
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, scheduleJSON(sc))
}

// PutSchedule changes a ring's schedule. Fields left out keep their value.
func (h *API) PutSchedule(c echo.Context) error {
	rings, err := ringParam(c, false)
	if err != nil {
		return err
	}
	sc, err := h.schedule(c, rings[0])
	if err != nil {
		return err
	}
	body := scheduleJSON(sc)
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if body.Ring != sc.Ring {
		return NewAPIError(http.StatusUnprocessableEntity, "the body's ring differs from the path's",
			APIErrorDetail{Pointer: "/ring", Field: "ring", Value: detailValue(string(body.Ring)), Reason: "must be " + string(sc.Ring) + " or left out"})
	}
	next := store.Schedule{Ring: sc.Ring, QualityDeferral: body.QualityDeferral, QualityDeadline: body.QualityDeadline,
		QualityGrace: body.QualityGrace, FeatureDeferral: body.FeatureDeferral, GateEnabled: body.GateEnabled, GatePercent: body.GatePercent}
	if err := h.Store.SetSchedule(c.Request().Context(), next, apiActor(c), h.Now()); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, scheduleJSON(next))
}

type apiPause struct {
	Ring      store.Ring       `json:"ring"`
	Kind      store.UpdateKind `json:"kind"`
	Reason    string           `json:"reason"`
	PausedBy  string           `json:"paused_by"`
	PausedAt  jsonTime         `json:"paused_at"`
	Until     jsonTime         `json:"until"`
	ResumedAt *jsonTime        `json:"resumed_at"`
}

func pausesJSON(ps []store.Pause) map[string][]apiPause {
	out := make([]apiPause, len(ps))
	for i, p := range ps {
		out[i] = apiPause{Ring: p.Ring, Kind: p.Kind, Reason: p.Reason, PausedBy: p.By, PausedAt: jsonTime(p.At),
			Until: jsonTime(p.Until), ResumedAt: timeOrNull(p.ResumedAt)}
	}
	return map[string][]apiPause{"pauses": out}
}

// PauseRing pauses a ring ("all": every ring) for quality or feature
// updates.
func (h *API) PauseRing(c echo.Context) error {
	rings, err := ringParam(c, true)
	if err != nil {
		return err
	}
	var body struct {
		Kind   string `json:"kind"`
		Reason string `json:"reason"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	kind, err := store.ParseUpdateKind(body.Kind)
	if err != nil {
		return err
	}
	ps, err := h.Store.PauseRings(c.Request().Context(), rings, kind, body.Reason, apiActor(c), h.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pausesJSON(ps))
}

// ResumeRing ends a ring's pause; the body may name the kind (default
// quality).
func (h *API) ResumeRing(c echo.Context) error {
	rings, err := ringParam(c, true)
	if err != nil {
		return err
	}
	var body struct {
		Kind string `json:"kind"`
	}
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<10))
	if err != nil {
		return NewAPIError(http.StatusBadRequest, "the body could not be read")
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		c.Request().Body = io.NopCloser(bytes.NewReader(raw))
		if err := decodeBody(c, &body); err != nil {
			return err
		}
	}
	kind, err := store.ParseUpdateKind(body.Kind)
	if err != nil {
		return err
	}
	ps, err := h.Store.ResumeRings(c.Request().Context(), rings, kind, apiActor(c), h.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pausesJSON(ps))
}

type apiReportRow struct {
	DeviceID        string    `json:"device_id"`
	DisplayName     string    `json:"display_name"`
	SerialNumber    string    `json:"serial_number"`
	Ring            string    `json:"ring"`
	UpdateStatus    string    `json:"update_status"`
	UpdateSubStatus *string   `json:"update_sub_status"`
	PauseStatus     *string   `json:"pause_status"`
	CurrentVersion  string    `json:"current_version"`
	TargetVersion   *string   `json:"target_version"`
	Readiness       string    `json:"readiness"`
	Alerts          string    `json:"alerts"`
	LastCheckin     *jsonTime `json:"last_checkin"`
}

// QualityReport is a page of the All devices report of quality updates.
func (h *API) QualityReport(c echo.Context) error {
	q := store.UpdateQuery{Kind: store.KindQuality, Limit: apiDefaultLimit, Search: strings.TrimSpace(c.QueryParam("q")),
		After: c.QueryParam("cursor"), Sort: c.QueryParam("sort")}
	var details []APIErrorDetail
	bad := func(field, value string, err error) {
		details = append(details, APIErrorDetail{Field: field, Value: detailValue(value), Reason: err.Error()})
	}
	var err error
	if v := c.QueryParam("ring"); v != "" {
		if q.Ring, err = store.ParseRing(v); err != nil {
			bad("ring", v, err)
		}
	}
	if v := c.QueryParam("status"); v != "" {
		if q.Status, err = store.ParseUpdateStatus(v); err != nil {
			bad("status", v, err)
		}
	}
	if v := c.QueryParam("sub_status"); v != "" {
		if q.Sub, err = store.ParseUpdateSubStatus(v); err != nil {
			bad("sub_status", v, err)
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > apiMaxLimit {
			bad("limit", v, fmt.Errorf("must be a whole number from 1 to %d", apiMaxLimit))
		}
		q.Limit = n
	}
	if len(details) > 0 {
		return NewAPIError(http.StatusUnprocessableEntity, "the query parameters were rejected", details...)
	}
	page, err := h.Store.UpdateReportPage(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := struct {
		Devices     []apiReportRow `json:"devices"`
		Total       int            `json:"total"`
		TotalCapped bool           `json:"total_capped"`
		NextCursor  *string        `json:"next_cursor"`
	}{Devices: make([]apiReportRow, len(page.Rows)), Total: page.Total, TotalCapped: page.Capped, NextCursor: stringOrNull(page.Next)}
	for i, r := range page.Rows {
		out.Devices[i] = apiReportRow{DeviceID: r.DeviceID, DisplayName: r.DisplayName, SerialNumber: r.SerialNumber,
			Ring: string(r.Ring), UpdateStatus: string(r.Status), UpdateSubStatus: stringOrNull(string(r.Sub)),
			PauseStatus: stringOrNull(r.PauseStatus()), CurrentVersion: r.Current.String(), TargetVersion: stringOrNull(r.Target),
			Readiness: string(r.Readiness), Alerts: r.Alerts, LastCheckin: timeOrNull(r.LastCheckin)}
	}
	return c.JSON(http.StatusOK, out)
}
