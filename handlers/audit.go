package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Audit shows and exports the audit log.
type Audit struct{ Deps }

const auditPageSize = 100

func auditFilter(c echo.Context) store.AuditFilter {
	f := store.AuditFilter{Actor: strings.TrimSpace(c.QueryParam("actor")), Action: strings.TrimSpace(c.QueryParam("action")),
		DeviceID: strings.TrimSpace(c.QueryParam("device"))}
	if b, err := strconv.ParseInt(c.QueryParam("before"), 10, 64); err == nil && b > 0 {
		f.Before = b
	}
	return f
}

// List shows one page of entries, newest first.
func (h *Audit) List(c echo.Context) error {
	f := auditFilter(c)
	f.Limit = auditPageSize
	entries, err := h.Store.AuditEntries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	v := views.AuditView{Filter: f, Entries: entries}
	if len(entries) == auditPageSize {
		v.Next = entries[len(entries)-1].ID
	}
	return Render(c, http.StatusOK, views.AuditPage(v))
}

// Export streams the filtered log as CSV.
func (h *Audit) Export(c echo.Context) error {
	ctx := c.Request().Context()
	f := auditFilter(c)
	dl := newDownload(c, fmt.Sprintf("patchboard-audit-%s.csv", h.Now().UTC().Format("2006-01-02")),
		"text/csv; charset=utf-8", h.WriteStall)
	defer dl.done()
	// Buffered: a refusal before the first entry sends nothing yet.
	w := store.NewCSVWriter(dl, store.CSVOptions{})
	n := 0
	err := w.Write([]string{"id", "at", "actor", "action", "target", "outcome", "detail"})
	if err == nil {
		err = h.Store.EachAuditEntry(ctx, f, func(e store.AuditEntry) error {
			n++
			return w.Write([]string{strconv.FormatInt(e.ID, 10), e.At.Format(time.RFC3339), e.Actor,
				e.Action, e.Target, e.Outcome, e.Detail})
		})
	}
	if err != nil && !c.Response().Committed {
		return err // nothing was sent: the user gets the error's page
	}
	if err == nil {
		err = w.Flush()
	}
	outcome := store.OutcomeSuccess
	if err != nil {
		outcome = store.OutcomeFailure
		h.Logger.Error("audit export failed", "error", err.Error())
	}
	h.Metrics.AddExportRows("audit", n)
	h.Audit(c, store.AuditEntry{Actor: Actor(c), Action: "audit.export", Outcome: outcome,
		Detail: fmt.Sprintf("%d entries", n)})
	return nil
}
