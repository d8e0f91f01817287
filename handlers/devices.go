package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Devices serves the device blades, device details, device actions and the
// CSV export.
type Devices struct{ Deps }

// Home sends the portal root to the overview, the start page.
func (h *Devices) Home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, views.StartPage)
}

// RulePreview answers the blades' advanced filter as the admin types, as
// the group rule editor is answered, in the filter's language: a group rule
// that may read ring too.
func (h *Devices) RulePreview(c echo.Context) error {
	v, err := previewRule(c, c.FormValue("rule"), h.Store.PreviewFilterRule)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.RulePreview(v))
}

// parseBladeQuery reads the blade's state from the URL (or from a form that
// includes the filters, as Modify columns does). Bad values are refused
// naming the parameter.
func parseBladeQuery(c echo.Context) (views.BladeQuery, error) {
	q := views.BladeQuery{Tab: store.TabReady, Size: 50, Search: strings.TrimSpace(c.FormValue("q")),
		Sort: c.FormValue("sort"), Desc: c.FormValue("dir") == "desc", After: c.FormValue("after")}
	var err error
	if v := c.FormValue("tab"); v != "" {
		if q.Tab, err = store.ParseTab(v); err != nil {
			return q, err
		}
	}
	if v := c.FormValue("status"); v != "" {
		if q.Status, err = store.ParseStatus(v); err != nil {
			return q, err
		}
		if q.Status.Tab() != q.Tab {
			q.Status = "" // a status of another tab (a stale bookmark): show the whole tab
		}
	}
	if v := c.FormValue("ring"); v != "" {
		if q.Ring, err = store.ParseRing(v); err != nil {
			return q, err
		}
	}
	if v := c.FormValue("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !validSize(n) {
			return q, store.Invalidf("page size %q is not offered; choose 25, 50, 100 or 200", v)
		}
		q.Size = n
	}
	if v := c.FormValue("check"); v != "" {
		if q.Check, err = store.ParseCheckID(v); err != nil {
			return q, err
		}
	}
	if v := c.FormValue("list"); v != "" {
		if q.List, err = strconv.ParseInt(v, 10, 64); err != nil || q.List <= 0 {
			return q, store.Invalidf("list %q is not a pasted list; paste it again", v)
		}
	}
	if q.Rule = strings.TrimSpace(c.FormValue("rule")); len(q.Rule) > 3072 {
		return q, store.Invalidf("the filter rule is longer than 3,072 characters")
	}
	if v := c.FormValue("view"); v != "" {
		if q.View, err = strconv.ParseInt(v, 10, 64); err != nil || q.View <= 0 {
			return q, store.Invalidf("view %q is not a saved view", v)
		}
	}
	if v := c.FormValue("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return q, store.Invalidf("page %q is not a page number; pages start at 1", v)
		}
		q.Page = n
	}
	if q.Sort != "" {
		col, ok := store.ColumnByKey(q.Sort)
		if !ok || !col.Sortable {
			q.Sort = ""
		}
	}
	if len(q.Search) > 200 {
		q.Search = q.Search[:200]
	}
	return q, nil
}

func validSize(n int) bool {
	for _, s := range views.PageSizes {
		if s == n {
			return true
		}
	}
	return false
}

func storeQuery(q views.BladeQuery) store.DeviceQuery {
	sq := store.DeviceQuery{Tab: q.Tab, Status: q.Status, Ring: q.Ring, Search: q.Search, Sort: q.Sort,
		Desc: q.Desc, Limit: q.Size, After: q.After, Check: q.Check, List: q.List, Rule: q.Rule}
	if q.After == "" && q.Page > 1 {
		sq.Offset = (q.Page - 1) * q.Size // a jump: Previous, Last or a page number
	}
	return sq
}

// bladeView loads everything the blade shows: the blade in one store
// call, and what triage adds (failing checks, a pasted list, saved views).
func (h *Devices) bladeView(c echo.Context, q views.BladeQuery) (views.BladeView, error) {
	ctx := c.Request().Context()
	uid := CurrentUser(c).ID
	saved, err := h.Store.Views(ctx, uid)
	if err != nil {
		return views.BladeView{}, err
	}
	sq := storeQuery(q)
	if q.View != 0 {
		sv, err := h.Store.View(ctx, uid, q.View)
		if err != nil {
			return views.BladeView{}, err
		}
		if sv.Tab == q.Tab {
			sq.Columns = sv.Columns
		}
	}
	b, err := h.Store.Blade(ctx, uid, sq)
	if err != nil {
		return views.BladeView{}, err
	}
	if sq.Columns != nil {
		b.Columns = sq.Columns // the saved view's, not the user's
	}
	v := views.BladeView{Query: q, Now: h.Now(), AllColumns: views.ColumnViews(store.BladeColumns),
		Columns: views.ColumnViews(b.Columns), Page: b.Page, Counts: b.Counts,
		RegistrationGroupID: b.RegistrationGroupID, LastRun: b.LastRun, Views: saved,
		LastSync: b.LastSync, LastGoodSync: b.LastGoodSync}
	if q.Tab != store.TabReady {
		if v.FailingChecks, err = h.Store.FailingChecks(ctx, q.Tab); err != nil {
			return views.BladeView{}, err
		}
	}
	if v.Pauses, err = h.Store.ActivePauses(ctx, h.Now()); err != nil {
		return views.BladeView{}, err
	}
	if q.List != 0 {
		l, err := h.Store.DeviceListByID(ctx, q.List)
		if err != nil {
			return views.BladeView{}, err
		}
		v.List = &l
	}
	return v, nil
}

// SaveView keeps the blade as the form describes it (tab, filters,
// search, sort, and the columns shown) under a name, private or shared.
func (h *Devices) SaveView(c echo.Context) error {
	q, err := parseBladeQuery(c)
	if err != nil {
		return err
	}
	cols := strings.Split(c.FormValue("columns"), ",")
	if c.FormValue("columns") == "" {
		if cols, err = h.Store.UserColumns(c.Request().Context(), CurrentUser(c).ID, q.Tab); err != nil {
			return err
		}
	}
	q.After, q.Page, q.View = "", 0, 0
	sv, err := h.Store.SaveView(c.Request().Context(), store.SavedView{OwnerID: CurrentUser(c).ID, Name: c.FormValue("name"),
		Shared: c.FormValue("shared") == "1", Tab: q.Tab, Query: q.Values().Encode(), Columns: cols}, h.Now())
	if err != nil {
		return err
	}
	h.Audit(c, store.AuditEntry{Actor: Actor(c), Action: "view.save", Target: sv.Name,
		Outcome: store.OutcomeSuccess, Detail: fmt.Sprintf("shared %v: %s", sv.Shared, sv.Query)})
	if IsFragment(c) {
		c.Response().Header().Set("HX-Location", views.ViewURL(sv))
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, views.ViewURL(sv))
}

// DeleteView deletes one of the user's saved views.
func (h *Devices) DeleteView(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such saved view.")
	}
	if err := h.Store.DeleteView(c.Request().Context(), CurrentUser(c).ID, id); err != nil {
		return err
	}
	h.Audit(c, store.AuditEntry{Actor: Actor(c), Action: "view.delete", Target: strconv.FormatInt(id, 10), Outcome: store.OutcomeSuccess})
	if IsFragment(c) {
		c.Response().Header().Set("HX-Location", "/devices")
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, "/devices")
}

// PasteList keeps a pasted list of device names, serial numbers or device
// IDs and sends the browser to the blade showing exactly those devices.
func (h *Devices) PasteList(c echo.Context) error {
	q, err := parseBladeQuery(c)
	if err != nil {
		return err
	}
	entries, err := store.ParseDeviceList(c.FormValue("entries"))
	if err != nil {
		return err
	}
	l, err := h.Store.SaveDeviceList(c.Request().Context(), CurrentUser(c).ID, entries, h.Now())
	if err != nil {
		return err
	}
	q = q.WithTab(q.Tab)
	q.List = l.ID
	if IsFragment(c) {
		c.Response().Header().Set("HX-Location", q.URL())
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, q.URL())
}

// List is the blade page; htmx requests get the fragment they target.
func (h *Devices) List(c echo.Context) error {
	q, err := parseBladeQuery(c)
	if err != nil {
		return err
	}
	v, err := h.bladeView(c, q)
	if err != nil {
		return err
	}
	if IsFragment(c) {
		switch c.Request().Header.Get("HX-Target") {
		case "device-table":
			return Render(c, http.StatusOK, views.DeviceTable(v))
		case "blade":
			return Render(c, http.StatusOK, views.Blade(v))
		}
	}
	return Render(c, http.StatusOK, views.DevicesPage(v))
}

// SaveColumns stores the user's Modify columns choice for a tab and answers
// with the refreshed blade.
func (h *Devices) SaveColumns(c echo.Context) error {
	ctx := c.Request().Context()
	tab, err := store.ParseTab(c.FormValue("tab"))
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	keys := form["column"]
	if c.FormValue("reset") != "" {
		keys = nil
	} else if len(keys) == 0 {
		return store.Invalidf("choose at least one column")
	}
	if err := h.Store.SetUserColumns(ctx, CurrentUser(c).ID, tab, keys); err != nil {
		return err
	}
	// The form includes the blade's filters, so the blade comes back as the
	// user left it (and as the URL still says).
	q, err := parseBladeQuery(c)
	if err != nil {
		return err
	}
	q.Tab, q.After, q.Page = tab, "", 0
	v, err := h.bladeView(c, q)
	if err != nil {
		return err
	}
	if IsFragment(c) {
		msg := fmt.Sprintf("Columns saved for the %s tab: %d shown.", tab.Label(), len(v.Columns))
		if keys == nil {
			msg = fmt.Sprintf("Columns of the %s tab reset to the defaults.", tab.Label())
		}
		if err := toast(c, msg); err != nil {
			return err
		}
		return Render(c, http.StatusOK, views.Blade(v))
	}
	return c.Redirect(http.StatusSeeOther, v.Query.URL())
}

// Detail shows one device: a flyout fragment for htmx, else a page.
func (h *Devices) Detail(c echo.Context) error {
	ctx := c.Request().Context()
	rec, err := h.Store.Device(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	hist, err := h.Store.AuditEntries(ctx, store.AuditFilter{DeviceID: rec.DeviceID, Limit: 50})
	if err != nil {
		return err
	}
	upd, err := h.Store.DeviceUpdate(ctx, rec.DeviceID)
	if err != nil {
		return err
	}
	pauses, err := h.Store.ActivePauses(ctx, h.Now())
	if err != nil {
		return err
	}
	src, err := h.Store.DeviceSource(ctx, rec.DeviceID)
	if err != nil {
		return err
	}
	v := views.DetailView{Record: rec, History: hist, Update: upd, Pauses: pauses, Source: src, Now: h.Now()}
	if IsFragment(c) {
		return Render(c, http.StatusOK, views.DeviceDetail(v))
	}
	return Render(c, http.StatusOK, views.DeviceDetailPage(v))
}

// selectedDevices reads the device_id values of a form: a device action's,
// or a group's add or remove.
func selectedDevices(c echo.Context) ([]string, error) {
	form, err := c.FormParams()
	if err != nil {
		return nil, err
	}
	ids := form["device_id"]
	if len(ids) == 0 {
		return nil, store.Invalidf("select at least one device")
	}
	if len(ids) > maxActionDevices {
		return nil, store.Invalidf("at most %s devices can be changed at once", views.Thousands(maxActionDevices))
	}
	return ids, nil
}

// toast has the page show msg when the response is swapped (app.js
// listens for the "toast" event).
func toast(c echo.Context, msg string) error {
	b, err := json.Marshal(map[string]string{"toast": msg})
	if err != nil {
		return err
	}
	c.Response().Header().Set("HX-Trigger", string(b))
	return nil
}

// actionDone tells the page that devices changed (the blade refreshes) and
// shows what happened.
func actionDone(c echo.Context, msg string) error {
	c.Response().Header().Set("HX-Trigger", "devices-changed")
	if IsFragment(c) {
		return Render(c, http.StatusOK, views.ActionToast(msg))
	}
	return c.Redirect(http.StatusSeeOther, "/devices")
}

// actionDevices are the devices a blade's action names: the selected rows,
// or with all_matching every device of the view the form describes (its
// tab, filters, search, check and list), up to maxActionDevices.
func (h *Devices) actionDevices(c echo.Context) ([]string, error) {
	if c.FormValue("all_matching") != "1" {
		return selectedDevices(c)
	}
	q, err := parseBladeQuery(c)
	if err != nil {
		return nil, err
	}
	sq := storeQuery(q)
	sq.After, sq.Limit, sq.Offset = "", 0, 0
	var ids []string
	errTooMany := store.Invalidf("the view has more than %s devices; narrow it with filters, or act on it in parts", views.Thousands(maxActionDevices))
	err = h.Store.EachDevice(c.Request().Context(), sq, func(r *store.DeviceRow) error {
		if len(ids) == maxActionDevices {
			return errTooMany
		}
		ids = append(ids, r.DeviceID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, store.Invalidf("no device matches the view any more; refresh it")
	}
	return ids, nil
}

// AssignRing moves the selected Active devices to a ring.
func (h *Devices) AssignRing(c echo.Context) error {
	ids, err := h.actionDevices(c)
	if err != nil {
		return err
	}
	ring, err := store.ParseRing(c.FormValue("ring"))
	if err != nil {
		return err
	}
	res, err := h.Store.AssignRing(c.Request().Context(), ring, ids, Actor(c))
	if err != nil {
		return err
	}
	return actionDone(c, fmt.Sprintf("Assigned %d device(s) to the %s ring (%d already there).", len(res.Changed), ring.Label(), len(res.Unchanged)))
}

// Deregister excludes the selected devices.
func (h *Devices) Deregister(c echo.Context) error {
	ids, err := h.actionDevices(c)
	if err != nil {
		return err
	}
	res, err := h.Store.Deregister(c.Request().Context(), ids, Actor(c))
	if err != nil {
		return err
	}
	return actionDone(c, fmt.Sprintf("Deregistered %d device(s); they are excluded until restored.", len(res.Changed)))
}

// Restore clears the exclusion of the selected devices.
func (h *Devices) Restore(c echo.Context) error {
	ids, err := h.actionDevices(c)
	if err != nil {
		return err
	}
	res, err := h.Store.Restore(c.Request().Context(), ids, Actor(c))
	if err != nil {
		return err
	}
	return actionDone(c, fmt.Sprintf("Restored %d device(s); the next discovery evaluates them.", len(res.Changed)))
}

// Export streams every row matching the blade's query as CSV, with the
// user's visible columns (or columns=all), and records the export.
func (h *Devices) Export(c echo.Context) error {
	ctx := c.Request().Context()
	q, err := parseBladeQuery(c)
	if err != nil {
		return err
	}
	var cols []store.Column
	if spec := c.QueryParam("columns"); spec != "" {
		if cols, err = store.ParseColumns(spec); err != nil {
			return err
		}
	} else {
		keys, err := h.Store.UserColumns(ctx, CurrentUser(c).ID, q.Tab)
		if err != nil {
			return err
		}
		if cols, err = store.ParseColumns(strings.Join(keys, ",")); err != nil {
			return err
		}
	}
	name := fmt.Sprintf("patchboard-%s-%s.csv", q.Tab, h.Now().UTC().Format("2006-01-02"))
	sq := storeQuery(q)
	sq.After, sq.Limit = "", 0
	dl := newDownload(c, name, "text/csv; charset=utf-8", h.WriteStall)
	defer dl.done()
	n, err := h.Store.ExportCSV(ctx, dl, sq, cols, store.CSVOptions{})
	if err != nil && !c.Response().Committed {
		return err // nothing was sent: the user gets the error's page
	}
	outcome, detail := store.OutcomeSuccess, fmt.Sprintf("%d rows, query %s", n, q.Values().Encode())
	if err != nil {
		// The status is sent; the truncated file is all the user gets.
		outcome, detail = store.OutcomeFailure, detail+": "+err.Error()
		h.Logger.Error("export failed", "error", err.Error())
	}
	h.Metrics.AddExportRows("devices", n)
	h.Audit(c, store.AuditEntry{Actor: Actor(c), Action: store.ActionExport, Target: string(q.Tab),
		Outcome: outcome, Detail: detail})
	return nil
}
