package handlers

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// MaxSupportBody bounds one support form: up to four attachments of
// store.MaxAttachmentBytes each, and the text around them.
const MaxSupportBody = 4*store.MaxAttachmentBytes + 1<<20

// Support is the support requests area (SPEC §13): administrators raise and
// follow requests, Global Administrators handle them as the service desk,
// everyone reads them.
type Support struct{ Deps }

// supportFilter reads the list's search and filters from the query; an
// unknown state or severity is ignored (the list shows every one).
func supportFilter(c echo.Context) store.SupportFilter {
	f := store.SupportFilter{Search: strings.TrimSpace(c.QueryParam("q"))}
	for _, s := range store.SupportStates {
		if c.QueryParam("state") == string(s) {
			f.State = s
		}
	}
	for _, s := range store.SupportSeverities {
		if c.QueryParam("severity") == string(s) {
			f.Severity = s
		}
	}
	return f
}

// List shows the requests of the last 6 months (and older open ones) with
// search and filters.
func (h *Support) List(c echo.Context) error {
	f := supportFilter(c)
	list, err := h.Store.SupportRequests(c.Request().Context(), f, h.Now())
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.SupportListPage(views.SupportListView{Requests: list, Filter: f, Now: h.Now()}))
}

// Export downloads the list as it is filtered, as CSV.
func (h *Support) Export(c echo.Context) error {
	f := supportFilter(c)
	now := h.Now()
	dl := newDownload(c, fmt.Sprintf("patchboard-support-%s.csv", now.UTC().Format("2006-01-02")), "text/csv; charset=utf-8", h.WriteStall)
	defer dl.done()
	w := store.NewCSVWriter(dl, store.CSVOptions{})
	n := 0
	err := w.Write([]string{"id", "title", "severity", "state", "raised_by", "assigned_to", "primary_contact", "devices", "created_at", "updated_at", "mitigated_at"})
	if err == nil {
		err = h.Store.EachSupportRequest(c.Request().Context(), f, now, func(r store.SupportRequest) error {
			n++
			mitigated := ""
			if !r.MitigatedAt.IsZero() {
				mitigated = r.MitigatedAt.Format(time.RFC3339)
			}
			return w.Write([]string{strconv.FormatInt(r.ID, 10), r.Title, r.Severity.Label(), r.State.Label(), r.RaisedBy, r.AssignedTo,
				r.ContactEmail, strconv.Itoa(r.DeviceCount), r.CreatedAt.Format(time.RFC3339), r.UpdatedAt.Format(time.RFC3339), mitigated})
		})
	}
	if err != nil && !c.Response().Committed {
		return err
	}
	if err == nil {
		err = w.Flush()
	}
	outcome := store.OutcomeSuccess
	if err != nil {
		outcome = store.OutcomeFailure
		h.Logger.Error("support export failed", "error", err.Error())
	}
	h.Metrics.AddExportRows("support", n)
	h.Audit(c, store.AuditEntry{Actor: Actor(c), Action: store.ActionSupportExport, Target: "support requests", Outcome: outcome,
		Detail: fmt.Sprintf("%d requests", n)})
	return nil
}

// New is the raise form. Device actions on the blades open it with the
// selected devices (device_id=…) filled in.
func (h *Support) New(c echo.Context) error {
	picked := c.QueryParams()["device_id"]
	v := views.SupportNewView{Form: views.SupportForm{Severity: store.SeverityModerate, Devices: strings.Join(picked, "\n")},
		Picked: len(picked), AllMatching: c.QueryParam("all_matching") != ""}
	return h.renderNew(c, http.StatusOK, v)
}

func (h *Support) renderNew(c echo.Context, status int, v views.SupportNewView) error {
	var err error
	if v.Contacts, err = h.Store.Contacts(c.Request().Context()); err != nil {
		return err
	}
	return Render(c, status, views.SupportNewPage(v))
}

// Raise records a new request from the multipart form. A refused form comes
// back with what was typed and a message by each wrong field (attachments
// must be chosen again: browsers do not refill file inputs).
func (h *Support) Raise(c echo.Context) error {
	form := views.SupportForm{Title: c.FormValue("title"), Description: c.FormValue("description"),
		Severity: store.SupportSeverity(c.FormValue("severity")), Devices: c.FormValue("devices"), Contact: c.FormValue("contact")}
	files, err := uploads(c, "attachment")
	if err != nil {
		return err
	}
	contactID, _ := strconv.ParseInt(form.Contact, 10, 64)
	var devices []string
	if strings.TrimSpace(form.Devices) != "" {
		if devices, err = store.ParseDeviceList(form.Devices); err != nil {
			return h.renderNew(c, http.StatusUnprocessableEntity, views.SupportNewView{Form: form,
				Errors: []store.FieldError{{Field: "devices", Reason: store.Message(err)}}})
		}
	}
	r, err := h.Store.RaiseSupportRequest(c.Request().Context(), store.NewSupportRequest{Title: form.Title, Description: form.Description,
		Severity: form.Severity, Devices: devices, ContactID: contactID, Attachments: files}, supportActor(c), h.Now())
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return h.renderNew(c, http.StatusUnprocessableEntity, views.SupportNewView{Form: form, Errors: ve.Errors})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/tenant/support/%d?raised=1", r.ID))
}

// Detail shows one request: its devices, history and attachments, and the
// actions the viewer may take.
func (h *Support) Detail(c echo.Context) error {
	v := views.SupportDetailView{}
	if c.QueryParam("raised") != "" {
		v.Saved = "The support request was raised. The service desk has been told, and the primary contact gets an e-mail."
	}
	return h.renderDetail(c, http.StatusOK, v)
}

func (h *Support) renderDetail(c echo.Context, status int, v views.SupportDetailView) error {
	id, err := requestID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v.Now = h.Now()
	if v.Request, err = h.Store.SupportRequest(ctx, id, v.Now); err != nil {
		return err
	}
	if CurrentUser(c).Role.Can(store.PermHandleSupport) {
		if v.Desk, err = h.Store.ServiceDesk(ctx); err != nil {
			return err
		}
	}
	v.Raiser = strings.EqualFold(Actor(c), v.Request.RaisedBy)
	return Render(c, status, views.SupportDetailPage(v))
}

// Assign gives the request to a service desk account.
func (h *Support) Assign(c echo.Context) error {
	return h.change(c, "The request was assigned.", func(id int64) error {
		return h.Store.AssignSupportRequest(c.Request().Context(), id, c.FormValue("assignee"), supportActor(c), h.Now())
	})
}

// Mitigate records the mitigation.
func (h *Support) Mitigate(c echo.Context) error {
	return h.change(c, "The request was mitigated. It can be reactivated for 24 hours.", func(id int64) error {
		return h.Store.MitigateSupportRequest(c.Request().Context(), id, c.FormValue("note"), supportActor(c), h.Now())
	})
}

// Reactivate opens a mitigated request again.
func (h *Support) Reactivate(c echo.Context) error {
	return h.change(c, "The request was reactivated.", func(id int64) error {
		return h.Store.ReactivateSupportRequest(c.Request().Context(), id, c.FormValue("note"), supportActor(c), h.Now())
	})
}

// Note adds a note and attachments.
func (h *Support) Note(c echo.Context) error {
	files, err := uploads(c, "attachment")
	if err != nil {
		return err
	}
	return h.change(c, "Your note was added.", func(id int64) error {
		return h.Store.AddSupportNote(c.Request().Context(), id, c.FormValue("note"), files, supportActor(c), h.Now())
	})
}

// change runs one change of a request and shows the request again: with
// what was done, or why it was refused (a refusal by role is a 403 page).
func (h *Support) change(c echo.Context, done string, fn func(id int64) error) error {
	id, err := requestID(c)
	if err != nil {
		return err
	}
	err = fn(id)
	switch {
	case err == nil:
		return h.renderDetail(c, http.StatusOK, views.SupportDetailView{Saved: done})
	case errors.Is(err, store.ErrInvalid):
		return h.renderDetail(c, http.StatusUnprocessableEntity, views.SupportDetailView{Error: store.Message(err)})
	case errors.Is(err, store.ErrConflict):
		return h.renderDetail(c, http.StatusConflict, views.SupportDetailView{Error: store.Message(err)})
	case errors.Is(err, store.ErrForbidden):
		// The role may act on requests, but not on this one (it is
		// someone else's): refused like the guard's refusals, and audited.
		h.Audit(c, store.AuditEntry{Actor: Actor(c), Action: "support.refused", Target: c.Request().URL.Path,
			Outcome: store.OutcomeDenied, Detail: store.Message(err)})
	}
	return err
}

// Attachment downloads one attachment as a file, never shown inline: its
// type is the one sniffed when it was stored, and nosniff keeps the browser
// from guessing another.
func (h *Support) Attachment(c echo.Context) error {
	id, err := requestID(c)
	if err != nil {
		return err
	}
	aid, err := strconv.ParseInt(c.Param("att"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such attachment.")
	}
	a, data, err := h.Store.SupportAttachment(c.Request().Context(), id, aid)
	if err != nil {
		return err
	}
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	hd.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, a.ContentType, data)
}

func requestID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such support request.")
	}
	return id, nil
}

func supportActor(c echo.Context) store.SupportActor {
	u := CurrentUser(c)
	return store.SupportActor{Email: u.Email, Role: u.Role}
}

// uploads reads the files of a multipart field; a file over the limit is
// read only up to one byte past it, and the store refuses it by name.
func uploads(c echo.Context, field string) ([]store.Upload, error) {
	form, err := c.MultipartForm()
	if errors.Is(err, http.ErrNotMultipart) {
		return nil, nil
	}
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The form could not be read. Reload the page and try again.")
	}
	var out []store.Upload
	for _, fh := range form.File[field] {
		f, err := fh.Open()
		if err != nil {
			return nil, fmt.Errorf("open upload: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(f, store.MaxAttachmentBytes+1))
		if err = errors.Join(err, f.Close()); err != nil {
			return nil, fmt.Errorf("read upload: %w", err)
		}
		out = append(out, store.Upload{Name: fh.Filename, Data: data})
	}
	return out, nil
}
