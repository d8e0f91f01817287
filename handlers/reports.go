package handlers

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Reports serves the update status reports: the summary per ring with the
// 90-day trend, the All devices report and its CSV export. Every role may
// view and export them.
type Reports struct{ Deps }

// Summary is the Quality (or, with kind=feature, Feature) update status
// report.
func (h *Reports) Summary(c echo.Context) error {
	ctx := c.Request().Context()
	kind, err := store.ParseUpdateKind(c.QueryParam("kind"))
	if err != nil {
		return err
	}
	sum, err := h.Store.UpdateSummary(ctx, kind)
	if err != nil {
		return err
	}
	pauses, err := h.Store.ActivePauses(ctx, h.Now())
	if err != nil {
		return err
	}
	trend, err := h.Store.UpdateTrend(ctx, kind)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.ReportsPage(views.ReportsView{Kind: kind, Summary: sum, Pauses: pauses,
		Trend: views.UpdateTrend(trend, h.Now()), Now: h.Now()}))
}

// parseReportQuery reads the All devices report's state from the URL; bad
// values are refused naming the parameter.
func parseReportQuery(c echo.Context) (views.ReportQuery, error) {
	q := views.ReportQuery{Size: views.ReportPageSizes[1], Search: strings.TrimSpace(c.QueryParam("q")), Sort: c.QueryParam("sort"),
		Desc: c.QueryParam("dir") == "desc", After: c.QueryParam("after")}
	var err error
	if q.Kind, err = store.ParseUpdateKind(c.QueryParam("kind")); err != nil {
		return q, err
	}
	if v := c.QueryParam("ring"); v != "" {
		if q.Ring, err = store.ParseRing(v); err != nil {
			return q, err
		}
	}
	if v := c.QueryParam("status"); v != "" {
		if q.Status, err = store.ParseUpdateStatus(v); err != nil {
			return q, err
		}
	}
	if q.Sub, err = store.ParseUpdateSubStatus(c.QueryParam("sub")); err != nil {
		return q, err
	}
	if v := c.QueryParam("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(views.ReportPageSizes, n) {
			return q, store.Invalidf("page size %q is not offered; choose 25, 50, 100 or 250", v)
		}
		q.Size = n
	}
	if q.Sort != "" && !slices.Contains(store.UpdateSorts, q.Sort) {
		q.Sort = "" // a stale bookmark: the default order
	}
	if len(q.Search) > 200 {
		q.Search = q.Search[:200]
	}
	return q, nil
}

func reportStoreQuery(q views.ReportQuery) store.UpdateQuery {
	return store.UpdateQuery{Kind: q.Kind, Ring: q.Ring, Status: q.Status, Sub: q.Sub, Search: q.Search, Sort: q.Sort,
		Desc: q.Desc, Limit: q.Size, After: q.After}
}

// Devices is the All devices report; the filters' htmx requests get the
// table.
func (h *Reports) Devices(c echo.Context) error {
	q, err := parseReportQuery(c)
	if err != nil {
		return err
	}
	page, err := h.Store.UpdateReportPage(c.Request().Context(), reportStoreQuery(q))
	if err != nil {
		return err
	}
	v := views.DeviceReportView{Query: q, Page: page}
	if IsFragment(c) && c.Request().Header.Get("HX-Target") == "device-report" {
		return Render(c, http.StatusOK, views.DeviceReport(v))
	}
	return Render(c, http.StatusOK, views.DeviceReportPage(v))
}

// Export streams every row of the report's filtered view as CSV, through
// the exports' pool, and records the export.
func (h *Reports) Export(c echo.Context) error {
	ctx := c.Request().Context()
	q, err := parseReportQuery(c)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("patchboard-%s-updates-%s.csv", q.Kind, h.Now().UTC().Format("2006-01-02"))
	dl := newDownload(c, name, "text/csv; charset=utf-8", h.WriteStall)
	defer dl.done()
	n, err := h.Store.ExportUpdateReport(ctx, dl, reportStoreQuery(q), store.CSVOptions{})
	if err != nil && !c.Response().Committed {
		return err
	}
	outcome, detail := store.OutcomeSuccess, fmt.Sprintf("%d rows, query %s", n, q.Values().Encode())
	if err != nil {
		outcome, detail = store.OutcomeFailure, detail+": "+err.Error()
		h.Logger.Error("update report export failed", "error", err.Error())
	}
	h.Metrics.AddExportRows("updates", n)
	h.Audit(c, store.AuditEntry{Actor: Actor(c), Action: store.ActionExport, Target: string(q.Kind) + " update report",
		Outcome: outcome, Detail: detail})
	return nil
}
