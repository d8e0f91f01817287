package handlers

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"patchboard/store"
)

// APIPrefix starts every path of the registration API. Requests under it
// authenticate with a bearer token and never with the session cookie, so
// they skip the CSRF check and the session loader, and errors are JSON.
const APIPrefix = "/api/"

// MaxAPIBody is the largest request body the API reads: 8 MiB, about
// 15,000 inventory records. Larger bodies get 413.
const MaxAPIBody = 8 << 20

// API page sizes of GET /api/v1/devices.
const (
	apiDefaultLimit = 100
	apiMaxLimit     = 1000
)

// maxActionDevices is the most devices one device action names, as in the
// portal.
const maxActionDevices = 5000

// IsAPI reports whether the request is for the registration API.
func IsAPI(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, APIPrefix) }

type tokenKey struct{}

// WithToken returns ctx carrying the API token that authenticated the
// request.
func WithToken(ctx context.Context, t store.APIToken) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// TokenFrom returns the request's API token, if it has one.
func TokenFrom(ctx context.Context) (store.APIToken, bool) {
	t, ok := ctx.Value(tokenKey{}).(store.APIToken)
	return t, ok
}

// API serves the registration API under /api/v1: JSON in and out, one
// store call per request, the same rules as the portal. Every change is
// audit-logged under the token's name ("token:NAME").
type API struct{ Deps }

func apiActor(c echo.Context) string {
	t, _ := TokenFrom(c.Request().Context())
	return t.Actor()
}

// openAPIDoc is the OpenAPI 3.1 description of the API, written by hand;
// TestOpenAPIDocument keeps it in step with the route table.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI serves the OpenAPI document.
func (h *API) OpenAPI(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, openAPIDoc)
}

// --- errors ----------------------------------------------------------------

// APIError is an error answer of the API: {"error": {"code", "message",
// "details"}}. Details name the items of the request that were rejected.
type APIError struct {
	Status  int              `json:"-"`
	Code    string           `json:"code"`
	Message string           `json:"message"`
	Details []APIErrorDetail `json:"details"`
}

func (e *APIError) Error() string { return e.Message }

// APIErrorDetail is one rejected part of a request.
type APIErrorDetail struct {
	// Pointer is the JSON pointer of the rejected value in the body, such
	// as "/3/architecture" or "/device_ids/2".
	Pointer string `json:"pointer,omitempty"`
	// Field is the field or query parameter.
	Field  string `json:"field,omitempty"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

// API error codes, one per status.
var apiCodes = map[int]string{
	http.StatusBadRequest:            "bad_request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "payload_too_large",
	http.StatusUnprocessableEntity:   "validation_failed",
	http.StatusTooManyRequests:       "too_many_requests",
	http.StatusInternalServerError:   "internal_error",
}

// NewAPIError is an error answer with the code of its status.
func NewAPIError(status int, message string, details ...APIErrorDetail) *APIError {
	code, ok := apiCodes[status]
	if !ok {
		code = strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
	}
	if details == nil {
		details = []APIErrorDetail{}
	}
	return &APIError{Status: status, Code: code, Message: message, Details: details}
}

// pointerToken escapes a name for a JSON pointer (RFC 6901).
var pointerToken = strings.NewReplacer("~", "~0", "/", "~1").Replace

// maxDetailValue bounds the rejected values echoed back in details.
const maxDetailValue = 200

func detailValue(v string) string {
	if len(v) <= maxDetailValue {
		return v
	}
	cut := maxDetailValue
	for cut > 0 && (v[cut]&0xc0) == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return v[:cut] + "…"
}

// apiErrorOf maps any error to the API's answer.
func apiErrorOf(err error) *APIError {
	var (
		ae  *APIError
		he  *echo.HTTPError
		mbe *http.MaxBytesError
		ve  *store.ValidationError
		te  *store.TokenError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return NewAPIError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the request body is larger than %d MiB; send the records in smaller batches", mbe.Limit>>20))
	case errors.As(err, &he):
		msg, ok := he.Message.(string)
		if !ok {
			msg = http.StatusText(he.Code)
		}
		if he.Code == http.StatusNotFound && msg == http.StatusText(http.StatusNotFound) {
			msg = "no such API endpoint; see /api/v1/openapi.json"
		}
		return NewAPIError(he.Code, msg)
	case errors.Is(err, store.ErrMalformedJSON):
		return NewAPIError(http.StatusBadRequest, err.Error())
	case errors.As(err, &ve):
		details := make([]APIErrorDetail, 0, len(ve.Errors))
		for _, fe := range ve.Errors {
			d := APIErrorDetail{Field: fe.Field, Value: detailValue(fe.Value), Reason: fe.Reason}
			switch {
			case fe.Item != "" && fe.Field != "":
				d.Pointer = fe.Item + "/" + pointerToken(fe.Field)
			case fe.Item != "":
				d.Pointer = fe.Item
			}
			details = append(details, d)
		}
		msg := fmt.Sprintf("%d value(s) were rejected; nothing was written", len(ve.Errors)+ve.Truncated)
		if ve.Truncated > 0 {
			msg += fmt.Sprintf(" (the first %d are listed)", len(ve.Errors))
		}
		return NewAPIError(http.StatusUnprocessableEntity, msg, details...)
	case errors.As(err, &te):
		return NewAPIError(http.StatusUnauthorized, te.Reason)
	case errors.Is(err, store.ErrNotFound):
		return NewAPIError(http.StatusNotFound, apiMessage(err))
	case errors.Is(err, store.ErrForbidden):
		return NewAPIError(http.StatusForbidden, apiMessage(err))
	case errors.Is(err, store.ErrInvalid):
		return NewAPIError(http.StatusUnprocessableEntity, apiMessage(err))
	case errors.Is(err, store.ErrConflict):
		return NewAPIError(http.StatusConflict, apiMessage(err))
	case errors.Is(err, store.ErrBusy):
		return NewAPIError(http.StatusServiceUnavailable, apiMessage(err))
	}
	return NewAPIError(http.StatusInternalServerError, "something went wrong; the error was logged, try again")
}

// apiMessage is the sentence a store refusal carries, without the operation
// names wrapped around it for the log.
func apiMessage(err error) string {
	if msg := store.Message(err); msg != "" {
		return msg
	}
	return "the request was refused"
}

// WriteAPIError answers err as JSON. Server errors are logged once, with
// the request ID; the client gets a generic message.
func WriteAPIError(c echo.Context, err error, log *slog.Logger) {
	ae := apiErrorOf(err)
	if ae.Status >= 500 {
		log.Error("request failed", slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("path", c.Request().URL.Path), slog.String("error", err.Error()))
	}
	if ae.Status == http.StatusServiceUnavailable {
		c.Response().Header().Set(echo.HeaderRetryAfter, RetryAfterBusy)
	}
	if ae.Status == http.StatusUnauthorized && c.Response().Header().Get(echo.HeaderWWWAuthenticate) == "" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="patchboard"`)
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(ae.Status)
	} else {
		werr = c.JSON(ae.Status, map[string]*APIError{"error": ae})
	}
	if werr != nil {
		log.Debug("API error response not sent", slog.String("path", c.Request().URL.Path), slog.String("error", werr.Error()))
	}
}

// --- request bodies -------------------------------------------------------

// limitBody is the request body, cut off at MaxAPIBody. A body announced
// as larger is refused before it is read.
func limitBody(c echo.Context) (io.Reader, error) {
	req := c.Request()
	if req.ContentLength > MaxAPIBody {
		return nil, &http.MaxBytesError{Limit: MaxAPIBody}
	}
	return http.MaxBytesReader(c.Response(), req.Body, MaxAPIBody), nil
}

// decodeBody reads one JSON object into v. Unknown fields and values of the
// wrong type are 422 with a pointer to the value; anything that is not one
// JSON value is 400; a body over MaxAPIBody is 413.
func decodeBody(c echo.Context, v any) error {
	body, err := limitBody(c)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return NewAPIError(http.StatusBadRequest, "the body holds more than one JSON value; send one object")
		}
		return bodyError(err)
	}
	return nil
}

func bodyError(err error) error {
	var (
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return NewAPIError(http.StatusBadRequest, "the body is empty; send a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return NewAPIError(http.StatusBadRequest, "the body is not valid JSON: "+strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &ute):
		if ute.Field == "" {
			return NewAPIError(http.StatusBadRequest, "the body must be a JSON object")
		}
		ptr := "/" + strings.ReplaceAll(ute.Field, ".", "/")
		return NewAPIError(http.StatusUnprocessableEntity, fmt.Sprintf("%s has the wrong type", ptr),
			APIErrorDetail{Pointer: ptr, Field: ute.Field, Reason: "must be " + jsonTypeName(ute.Type.String()) + ", not " + ute.Value})
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return NewAPIError(http.StatusUnprocessableEntity, fmt.Sprintf("unknown field %q", name),
			APIErrorDetail{Pointer: "/" + pointerToken(name), Field: name, Reason: "is not a field of this request"})
	}
	return NewAPIError(http.StatusBadRequest, "the body could not be read: "+err.Error())
}

func jsonTypeName(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "[]string":
		return "an array of strings"
	}
	return "a " + goType
}

// deviceIDsBody is the body of the device actions and of registrations.
type deviceIDsBody struct {
	DeviceIDs []string `json:"device_ids"`
}

// ringBody is the body of assign-ring.
type ringBody struct {
	DeviceIDs []string `json:"device_ids"`
	Ring      *string  `json:"ring"`
}

func checkDeviceIDs(ids []string, max int) error {
	switch {
	case len(ids) == 0:
		return NewAPIError(http.StatusUnprocessableEntity, "name at least one device",
			APIErrorDetail{Pointer: "/device_ids", Field: "device_ids", Reason: "must be a non-empty array of device IDs"})
	case len(ids) > max:
		return NewAPIError(http.StatusUnprocessableEntity, fmt.Sprintf("at most %d devices can be named at once", max),
			APIErrorDetail{Pointer: "/device_ids", Field: "device_ids", Reason: fmt.Sprintf("names %d devices; at most %d are allowed", len(ids), max)})
	}
	return nil
}

// --- JSON shapes ------------------------------------------------------------

// inventoryJSON writes a device's inventory fields, in SPEC §1 order, with
// the keys and value types PUT /api/v1/devices accepts: strings, booleans
// for the true/false fields (null when not reported), arrays for the list
// fields, and null for a last_checkin never reported.
type inventoryJSON struct{ d *store.Device }

func (v inventoryJSON) appendFields(b []byte) []byte {
	for i, f := range store.InventoryFields {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, f.Key)
		b = append(b, ':')
		val := f.Value(v.d)
		switch {
		case val == "" && (f.Type == store.FieldBool || f.Key == "last_checkin"):
			b = append(b, "null"...)
		case f.Type == store.FieldBool:
			b = append(b, val...) // true or false
		case f.Type == store.FieldList:
			b = append(b, '[')
			for j, e := range strings.Split(val, ";") {
				if e == "" {
					break
				}
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, e)
			}
			b = append(b, ']')
		default:
			b = appendJSONString(b, val)
		}
	}
	return b
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// apiDevice is a device as the API returns it: its inventory fields, then
// its registration and, in the detail, its checks.
type apiDevice struct {
	inv          inventoryJSON
	Registration apiRegistration `json:"registration"`
	// Checks are set only by GET /api/v1/devices/{id}.
	Checks *apiChecks `json:"checks,omitempty"`
}

// MarshalJSON flattens the inventory fields into the object.
func (d apiDevice) MarshalJSON() ([]byte, error) {
	type rest struct {
		Registration apiRegistration `json:"registration"`
		Checks       *apiChecks      `json:"checks,omitempty"`
	}
	tail, err := json.Marshal(rest{d.Registration, d.Checks})
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1024)
	b = append(b, '{')
	b = d.inv.appendFields(b)
	b = append(b, ',')
	return append(b, tail[1:]...), nil
}

type apiRegistration struct {
	Status             *string   `json:"status"`
	Tab                *string   `json:"tab"`
	Reasons            []string  `json:"reasons"`
	Ring               *string   `json:"ring"`
	RingAssignedBy     *string   `json:"ring_assigned_by"`
	RingAssignedByUser *string   `json:"ring_assigned_by_user"`
	RingAssignedAt     *jsonTime `json:"ring_assigned_at"`
	RegisteredAt       *jsonTime `json:"registered_at"`
	EvaluatedAt        *jsonTime `json:"evaluated_at"`
	DiscoveredVia      *string   `json:"discovered_via"`
}

// jsonTime is a time in RFC 3339, UTC, whole seconds.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339) + `"`), nil
}

func timeOrNull(t time.Time) *jsonTime {
	if t.IsZero() {
		return nil
	}
	jt := jsonTime(t)
	return &jt
}

func stringOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func registrationJSON(r *store.Registration) apiRegistration {
	reasons := make([]string, len(r.Reasons))
	for i, c := range r.Reasons {
		reasons[i] = string(c)
	}
	return apiRegistration{
		Status: stringOrNull(string(r.Status)), Tab: stringOrNull(string(r.Status.Tab())), Reasons: reasons,
		Ring: stringOrNull(string(r.Ring)), RingAssignedBy: stringOrNull(r.RingBy), RingAssignedByUser: stringOrNull(r.RingActor),
		RingAssignedAt: timeOrNull(r.RingAt), RegisteredAt: timeOrNull(r.RegisteredAt), EvaluatedAt: timeOrNull(r.EvaluatedAt),
		DiscoveredVia: stringOrNull(r.DiscoveredVia),
	}
}

func deviceJSON(row *store.DeviceRow) apiDevice {
	return apiDevice{inv: inventoryJSON{&row.Device}, Registration: registrationJSON(&row.Registration)}
}

// apiChecks are the checks of a device's last evaluation.
type apiChecks struct {
	// Phase is "prerequisites" for a device that is not registered,
	// "readiness" for a registered one; null when the device has no
	// evaluation (on no blade, or excluded).
	Phase   *string    `json:"phase"`
	Results []apiCheck `json:"results"`
}

type apiCheck struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Passed      bool    `json:"passed"`
	NotReported bool    `json:"not_reported"`
	Reason      *string `json:"reason"`
	Remediation *string `json:"remediation"`
	WhoActs     *string `json:"who_acts"`
}

func checkJSON(c store.CheckResult) apiCheck {
	out := apiCheck{ID: string(c.Check), Name: c.Check.Name(), Passed: c.Passed, NotReported: c.NotReported}
	if !c.Passed {
		out.Reason, out.Remediation, out.WhoActs = stringOrNull(c.Reason), stringOrNull(c.Remediation), stringOrNull(c.Check.Actor())
	}
	return out
}

func checksJSON(cs []store.CheckResult) []apiCheck {
	out := make([]apiCheck, len(cs))
	for i, c := range cs {
		out[i] = checkJSON(c)
	}
	return out
}

// --- devices ----------------------------------------------------------------

// PutDevices upserts a batch of inventory records, all or nothing.
func (h *API) PutDevices(c echo.Context) error {
	body, err := limitBody(c)
	if err != nil {
		return err
	}
	res, err := h.Store.ImportDevicesJSON(c.Request().Context(), body, "PUT /api/v1/devices", apiActor(c))
	if err != nil {
		return err
	}
	h.Metrics.AddImportRows("devices", res.Rows)
	return c.JSON(http.StatusOK, map[string]int{"records": res.Rows, "new": res.Inserted, "updated": res.Updated, "unchanged": res.Unchanged})
}

// ReportSignals is POST /api/v1/signals: devices report their readiness
// signals and update alerts (a JSON array of partial reports), for a
// reporter token.
func (h *API) ReportSignals(c echo.Context) error {
	body, err := limitBody(c)
	if err != nil {
		return err
	}
	now := h.Now()
	reports, err := store.DecodeSignalsJSON(body, now)
	if err != nil {
		return err
	}
	res, err := h.Store.ReportSignals(c.Request().Context(), reports, apiActor(c), now)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"reports": res.Reports, "updated": res.Updated,
		"unchanged": res.Unchanged, "stale": res.Stale})
}

// deviceListQuery reads GET /api/v1/devices' parameters.
func deviceListQuery(c echo.Context) (store.DeviceQuery, error) {
	q := store.DeviceQuery{Tab: store.TabReady, Limit: apiDefaultLimit, Search: strings.TrimSpace(c.QueryParam("q")),
		After: c.QueryParam("cursor")}
	var details []APIErrorDetail
	bad := func(field, value string, err error) {
		details = append(details, APIErrorDetail{Field: field, Value: detailValue(value), Reason: err.Error()})
	}
	if v := c.QueryParam("status"); v != "" {
		s, err := store.ParseStatus(v)
		if err != nil {
			bad("status", v, err)
		}
		q.Status, q.Tab = s, s.Tab()
	}
	if v := c.QueryParam("tab"); v != "" {
		t, err := store.ParseTab(v)
		switch {
		case err != nil:
			bad("tab", v, err)
		case q.Status != "" && q.Status.Tab() != t:
			bad("status", string(q.Status), fmt.Errorf("status %s is shown on the %s tab, not %s", q.Status, q.Status.Tab(), t))
		}
		q.Tab = t
	}
	if v := c.QueryParam("ring"); v != "" {
		r, err := store.ParseRing(v)
		if err != nil {
			bad("ring", v, err)
		}
		q.Ring = r
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > apiMaxLimit {
			bad("limit", v, fmt.Errorf("must be a whole number from 1 to %d", apiMaxLimit))
		}
		q.Limit = n
	}
	if len(q.Search) > 200 {
		bad("q", q.Search, errors.New("must be at most 200 characters"))
	}
	if len(details) > 0 {
		return q, NewAPIError(http.StatusUnprocessableEntity, "the query parameters were rejected", details...)
	}
	return q, nil
}

// Devices is one page of a blade.
func (h *API) Devices(c echo.Context) error {
	q, err := deviceListQuery(c)
	if err != nil {
		return err
	}
	page, err := h.Store.DevicePage(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := struct {
		Devices     []apiDevice `json:"devices"`
		Total       int         `json:"total"`
		TotalCapped bool        `json:"total_capped"`
		NextCursor  *string     `json:"next_cursor"`
	}{Devices: make([]apiDevice, len(page.Rows)), Total: page.Total, TotalCapped: page.Capped, NextCursor: stringOrNull(page.Next)}
	for i := range page.Rows {
		out.Devices[i] = deviceJSON(&page.Rows[i])
	}
	return c.JSON(http.StatusOK, out)
}

// Device is one device with its registration and checks.
func (h *API) Device(c echo.Context) error {
	rec, err := h.Store.Device(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	d := deviceJSON(&rec.DeviceRow)
	d.Checks = &apiChecks{Results: []apiCheck{}}
	switch {
	case rec.Status.Registered():
		d.Checks.Phase = stringOrNull("readiness")
		d.Checks.Results = checksJSON(rec.Checks())
	case rec.Status == store.StatusPrerequisitesFailed:
		d.Checks.Phase = stringOrNull("prerequisites")
		d.Checks.Results = checksJSON(rec.Checks())
	}
	return c.JSON(http.StatusOK, d)
}

// --- registrations ----------------------------------------------------------

type apiRegistrationResult struct {
	DeviceID       string     `json:"device_id"`
	Result         string     `json:"result"`
	DisplayName    *string    `json:"display_name"`
	SerialNumber   *string    `json:"serial_number"`
	Status         *string    `json:"status"`
	Ring           *string    `json:"ring"`
	RingAssignedBy *string    `json:"ring_assigned_by"`
	Failures       []apiCheck `json:"failures"`
	Error          *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// Register registers devices by ID now and answers each one's outcome.
func (h *API) Register(c echo.Context) error {
	var body deviceIDsBody
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if err := checkDeviceIDs(body.DeviceIDs, store.MaxRegistrationBatch); err != nil {
		return err
	}
	outcomes, err := h.Store.RegisterDevices(c.Request().Context(), body.DeviceIDs, apiActor(c), h.Now())
	if err != nil {
		return err
	}
	counts := map[store.RegistrationResult]int{}
	results := make([]apiRegistrationResult, len(outcomes))
	for i, o := range outcomes {
		counts[o.Result]++
		r := apiRegistrationResult{DeviceID: o.DeviceID, Result: string(o.Result), DisplayName: stringOrNull(o.DisplayName),
			SerialNumber: stringOrNull(o.SerialNumber), Status: stringOrNull(string(o.Status)), Ring: stringOrNull(string(o.Ring)),
			RingAssignedBy: stringOrNull(o.RingBy), Failures: checksJSON(o.Failures)}
		switch o.Result {
		case store.RegistrationNotFound, store.RegistrationExcluded:
			code := "not_found"
			if o.Result == store.RegistrationExcluded {
				code = "excluded"
			}
			r.Error = &struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}{code, o.Reason}
		}
		results[i] = r
	}
	return c.JSON(http.StatusOK, map[string]any{
		"results":              results,
		"registered":           counts[store.RegistrationRegistered],
		"prerequisites_failed": counts[store.RegistrationFailed],
		"already_registered":   counts[store.RegistrationAlreadyRegistered],
		"excluded":             counts[store.RegistrationExcluded],
		"not_found":            counts[store.RegistrationNotFound],
	})
}

// --- discovery ------------------------------------------------------------

type apiRun struct {
	ID                  int64     `json:"id"`
	Trigger             string    `json:"trigger"`
	Actor               string    `json:"actor"`
	State               string    `json:"state"`
	StartedAt           jsonTime  `json:"started_at"`
	FinishedAt          *jsonTime `json:"finished_at"`
	Total               int       `json:"total"`
	Processed           int       `json:"processed"`
	Candidates          int       `json:"candidates"`
	Registered          int       `json:"registered"`
	PrerequisitesFailed int       `json:"prerequisites_failed"`
	StatusChanges       int       `json:"status_changes"`
	Failure             *string   `json:"failure"`
}

func runJSON(r store.DiscoveryRun) apiRun {
	return apiRun{ID: r.ID, Trigger: string(r.Trigger), Actor: r.Actor, State: string(r.State),
		StartedAt: jsonTime(r.StartedAt), FinishedAt: timeOrNull(r.FinishedAt), Total: r.Total, Processed: r.Processed,
		Candidates: r.Candidates, Registered: r.Registered, PrerequisitesFailed: r.PrerequisitesFailed,
		StatusChanges: r.StatusChanges, Failure: stringOrNull(r.Error)}
}

// StartDiscovery starts a run, or joins the one going, and answers 202 with
// the run and its URL.
func (h *API) StartDiscovery(c echo.Context) error {
	if err := h.emptyBody(c); err != nil {
		return err
	}
	id, err := h.Store.StartDiscovery(h.Background, store.TriggerAPI, apiActor(c), h.Now())
	if err != nil {
		return err
	}
	run, err := h.Store.DiscoveryRunByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/discovery/"+strconv.FormatInt(id, 10))
	return c.JSON(http.StatusAccepted, runJSON(run))
}

// emptyBody accepts no body, an empty one or an empty JSON object.
func (h *API) emptyBody(c echo.Context) error {
	b, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<10))
	if err != nil {
		return NewAPIError(http.StatusBadRequest, "the body could not be read")
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "{}" || string(b) == "null" {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return NewAPIError(http.StatusBadRequest, "the body must be empty or {}")
	}
	var details []APIErrorDetail
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		details = append(details, APIErrorDetail{Pointer: "/" + pointerToken(k), Field: k, Reason: "is not a field of this request"})
	}
	return NewAPIError(http.StatusUnprocessableEntity, "this request takes no fields", details...)
}

// DiscoveryRun is one run's state and counts.
func (h *API) DiscoveryRun(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("run"), 10, 64)
	if err != nil || id < 1 {
		return NewAPIError(http.StatusNotFound, fmt.Sprintf("discovery run %q was not found", c.Param("run")))
	}
	run, err := h.Store.DiscoveryRunByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, runJSON(run))
}

// --- device actions ---------------------------------------------------------

// actionJSON answers a device action's result.
func actionJSON(c echo.Context, res store.ActionResult) error {
	changed, unchanged := res.Changed, res.Unchanged
	if changed == nil {
		changed = []string{}
	}
	if unchanged == nil {
		unchanged = []string{}
	}
	return c.JSON(http.StatusOK, map[string][]string{"changed": changed, "unchanged": unchanged})
}

// refusedError maps an action's refusal to 422 with a pointer to each
// refused device in the request.
func refusedError(err error, ids []string) error {
	var re *store.ActionRefusedError
	if !errors.As(err, &re) {
		return err
	}
	index := make(map[string]int, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		index[store.NormalizeDeviceID(ids[i])] = i
	}
	details := make([]APIErrorDetail, len(re.Refused))
	for i, r := range re.Refused {
		d := APIErrorDetail{Field: "device_ids", Value: r.Value, Reason: "the device " + r.Reason}
		if j, ok := index[store.NormalizeDeviceID(r.Value)]; ok {
			d.Pointer = fmt.Sprintf("/device_ids/%d", j)
		}
		details[i] = d
	}
	return NewAPIError(http.StatusUnprocessableEntity,
		fmt.Sprintf("cannot %s %d device(s); nothing was changed", re.Action, len(re.Refused)), details...)
}

// AssignRing moves Active devices to a ring.
func (h *API) AssignRing(c echo.Context) error {
	var body ringBody
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if err := checkDeviceIDs(body.DeviceIDs, maxActionDevices); err != nil {
		return err
	}
	if body.Ring == nil {
		return NewAPIError(http.StatusUnprocessableEntity, "name the ring",
			APIErrorDetail{Pointer: "/ring", Field: "ring", Reason: "is required: test, first, fast or broad"})
	}
	ring, err := store.ParseRing(*body.Ring)
	if err != nil {
		return NewAPIError(http.StatusUnprocessableEntity, err.Error(),
			APIErrorDetail{Pointer: "/ring", Field: "ring", Value: detailValue(*body.Ring), Reason: "must be test, first, fast or broad"})
	}
	res, err := h.Store.AssignRing(c.Request().Context(), ring, body.DeviceIDs, apiActor(c))
	if err != nil {
		return refusedError(err, body.DeviceIDs)
	}
	return actionJSON(c, res)
}

// Deregister excludes devices.
func (h *API) Deregister(c echo.Context) error {
	var body deviceIDsBody
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if err := checkDeviceIDs(body.DeviceIDs, maxActionDevices); err != nil {
		return err
	}
	res, err := h.Store.Deregister(c.Request().Context(), body.DeviceIDs, apiActor(c))
	if err != nil {
		return refusedError(err, body.DeviceIDs)
	}
	return actionJSON(c, res)
}

// Restore clears the exclusion of devices.
func (h *API) Restore(c echo.Context) error {
	var body deviceIDsBody
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if err := checkDeviceIDs(body.DeviceIDs, maxActionDevices); err != nil {
		return err
	}
	res, err := h.Store.Restore(c.Request().Context(), body.DeviceIDs, apiActor(c))
	if err != nil {
		return refusedError(err, body.DeviceIDs)
	}
	return actionJSON(c, res)
}
