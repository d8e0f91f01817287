package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Limits of a portal import. The CLI has none: it streams files of any size.
const (
	// MaxUploadBytes bounds the body of an import upload; the server answers
	// 413 beyond it. 100,000 inventory rows with every column filled take
	// about 25 MB.
	MaxUploadBytes = 32 << 20
	// MaxImportRows bounds the data rows of one file.
	MaxImportRows = 100_000
	// pendingTTL is how long a previewed file waits for Import or Cancel.
	pendingTTL = 30 * time.Minute
	// commitTimeout bounds an import once started; it is not tied to the
	// browser staying on the page (see Commit).
	commitTimeout = 5 * time.Minute
)

// Imports serves bulk import in the portal: a CSV of members into an
// assigned group, and an inventory CSV into the directory. Each goes in two
// steps: Preview uploads the file, checks every row and lists every rejected
// one, writing nothing; Import commits exactly the file that was previewed,
// all-or-nothing.
//
// Between the steps the file waits server-side in a private temporary file
// (pendingImports), not in the browser: what is committed is byte for byte
// what was checked, the 32 MB are uploaded once, and the client only ever
// holds a random token, never a path.
type Imports struct {
	Deps
	pending *pendingImports
}

// NewImports returns the import handlers. Previewed files left waiting are
// deleted after pendingTTL, and all of them when deps.Background ends.
func NewImports(deps Deps) *Imports {
	h := &Imports{Deps: deps, pending: newPendingImports(deps.Now, deps.Logger)}
	go h.pending.janitor(deps.Background)
	return h
}

// Page shows both import forms.
func (h *Imports) Page(c echo.Context) error {
	v, err := h.view(c, "")
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.ImportsPage(v))
}

func (h *Imports) view(c echo.Context, group string) (views.ImportsView, error) {
	groups, err := h.Store.MemberImportGroups(c.Request().Context(), CurrentUser(c))
	if err != nil {
		return views.ImportsView{}, err
	}
	return views.ImportsView{
		Groups:  groups,
		Group:   group,
		Members: views.ImportState{Kind: views.ImportMembers},
		Devices: views.ImportState{Kind: views.ImportDevices},
		MaxRows: MaxImportRows,
		MaxMB:   MaxUploadBytes >> 20,
	}, nil
}

// PreviewMembers checks a member file against the directory.
func (h *Imports) PreviewMembers(c echo.Context) error { return h.preview(c, views.ImportMembers) }

// PreviewDevices checks an inventory file.
func (h *Imports) PreviewDevices(c echo.Context) error { return h.preview(c, views.ImportDevices) }

// CommitMembers imports a previewed member file.
func (h *Imports) CommitMembers(c echo.Context) error { return h.commit(c, views.ImportMembers) }

// CommitDevices imports a previewed inventory file.
func (h *Imports) CommitDevices(c echo.Context) error { return h.commit(c, views.ImportDevices) }

func (h *Imports) preview(c echo.Context, kind views.ImportKind) error {
	ctx := c.Request().Context()
	u := CurrentUser(c)
	up, err := receiveUpload(c, h.Logger)
	if err != nil {
		var msg rejection
		if errors.As(err, &msg) {
			return h.answer(c, kind, up.group, views.ImportState{Kind: kind, Stage: views.StageRejected, Note: string(msg)})
		}
		return err
	}
	keep := false
	defer func() {
		if !keep {
			removeFile(h.Logger, up.path)
		}
	}()
	state := views.ImportState{Kind: kind, Stage: views.StagePreview, File: up.name, Group: up.group}
	f, err := os.Open(up.path)
	if err != nil {
		return err
	}
	defer closeRead(f)
	switch kind {
	case views.ImportMembers:
		g, err := h.memberTarget(c, up.group)
		if err != nil {
			return err
		}
		state.Group = g.Name
		state.Members, err = h.Store.ImportMembers(ctx, g.Name, f, up.name, Actor(c), true)
		if err != nil {
			return h.rejected(c, state, err)
		}
		state.Rows, state.Members.DevicePKs = state.Members.Rows, nil
	case views.ImportDevices:
		state.Devices, err = h.Store.PreviewDevices(ctx, f)
		if err != nil {
			return h.rejected(c, state, err)
		}
		state.Rows = state.Devices.Rows
	}
	if state.Rows == 0 {
		state.Stage, state.Note = views.StageRejected, "The file has a header but no rows: there is nothing to import."
		return h.answer(c, kind, state.Group, state)
	}
	state.Token = h.pending.put(&pendingImport{kind: kind, userID: u.ID, group: state.Group, path: up.path, name: up.name, rows: state.Rows})
	keep = true
	return h.answer(c, kind, state.Group, state)
}

// clientClosedRequest answers a request whose client left before the
// answer (nginx's 499): a person who leaves a long preview is no server
// error to log.
const clientClosedRequest = 499

// rejected answers a preview or commit whose file has bad rows with the list
// of them (422); other errors go to the error handler.
func (h *Imports) rejected(c echo.Context, state views.ImportState, err error) error {
	var verr *store.ValidationError
	if !errors.As(err, &verr) {
		if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
			return echo.NewHTTPError(clientClosedRequest, "The request was cancelled.")
		}
		return err
	}
	state.Stage, state.Token = views.StageRejected, ""
	state.Rejected, state.MoreRejected = verr.Errors, verr.Truncated
	return h.answer(c, state.Kind, state.Group, state)
}

// answer renders an import's state: the fragment it replaces for htmx, the
// whole page otherwise (the forms work without JavaScript too).
func (h *Imports) answer(c echo.Context, kind views.ImportKind, group string, state views.ImportState) error {
	status := http.StatusOK
	if state.Stage == views.StageRejected {
		status = http.StatusUnprocessableEntity
	}
	if IsFragment(c) {
		return Render(c, status, views.ImportArea(state))
	}
	v, err := h.view(c, group)
	if err != nil {
		return err
	}
	if kind == views.ImportMembers {
		v.Members = state
	} else {
		v.Devices = state
	}
	return Render(c, status, views.ImportsPage(v))
}

// memberTarget loads the group a member import names and refuses (403,
// audited) a user who may not change its membership: the Device
// Registration group needs an Intune or Global Administrator, or a Service
// Administrator who owns it.
func (h *Imports) memberTarget(c echo.Context, group string) (store.MemberImportGroup, error) {
	if strings.TrimSpace(group) == "" {
		return store.MemberImportGroup{}, store.Invalidf("choose the group to add the devices to")
	}
	u := CurrentUser(c)
	g, err := h.Store.MemberImportTarget(c.Request().Context(), group, u)
	if err != nil {
		return g, err
	}
	if !g.Allowed {
		req := c.Request()
		h.Audit(c, store.AuditEntry{Actor: u.Email, Action: "request.refused",
			Target: req.Method + " " + req.URL.Path, Outcome: store.OutcomeDenied,
			Detail: fmt.Sprintf("%s may not change the members of %s", u.Role.Label(), g.Name)})
		return g, echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf(
			"Your role (%s) does not allow this: the members of the %s group can be changed only by its owners, Intune Service Administrators and Global Administrators.",
			u.Role.Label(), g.Name))
	}
	return g, nil
}

func (h *Imports) commit(c echo.Context, kind views.ImportKind) error {
	u := CurrentUser(c)
	p := h.pending.take(c.FormValue("token"), kind, u.ID)
	if p == nil {
		return h.answer(c, kind, "", views.ImportState{Kind: kind, Stage: views.StageRejected,
			Note: "This preview has expired or was already imported or cancelled. Choose the file and preview it again."})
	}
	done := false
	defer func() {
		if done {
			removeFile(h.Logger, p.path)
		} else {
			h.pending.restore(p) // a passing failure: Import can be tried again
		}
	}()
	// The import runs to its end even if the browser leaves: it is one
	// transaction either way, and "I clicked Import" should mean it happened.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), commitTimeout)
	defer cancel()
	state := views.ImportState{Kind: kind, Stage: views.StageDone, File: p.name, Group: p.group, Rows: p.rows}
	f, err := os.Open(p.path)
	if err != nil {
		return err
	}
	defer closeRead(f)
	switch kind {
	case views.ImportMembers:
		// Permissions are asked again: a role or an ownership may have
		// changed since the preview.
		if _, err := h.memberTarget(c, p.group); err != nil {
			done = true
			return err
		}
		state.Members, err = h.Store.ImportMembers(ctx, p.group, f, p.name, Actor(c), false)
		state.Members.DevicePKs = nil
	case views.ImportDevices:
		state.Devices, err = h.Store.ImportDevices(ctx, f, p.name, Actor(c))
	}
	if err != nil {
		if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
			// The directory or the group changed since the preview: the file
			// must be previewed again.
			done = true
			state.Note = "The directory changed since the preview, and the file no longer imports cleanly. Nothing was imported."
		}
		return h.rejected(c, state, err)
	}
	done = true
	if kind == views.ImportDevices {
		h.Metrics.AddImportRows("devices", state.Devices.Rows)
		c.Response().Header().Set("HX-Trigger", "devices-changed")
	} else {
		h.Metrics.AddImportRows("members", state.Members.Rows)
	}
	return h.answer(c, kind, p.group, state)
}

// Cancel drops a previewed file.
func (h *Imports) Cancel(c echo.Context) error {
	u := CurrentUser(c)
	kind := views.ImportKind(c.FormValue("kind"))
	if kind != views.ImportMembers && kind != views.ImportDevices {
		return store.Invalidf("kind must be members or devices")
	}
	if p := h.pending.take(c.FormValue("token"), kind, u.ID); p != nil {
		removeFile(h.Logger, p.path)
	}
	if IsFragment(c) {
		return Render(c, http.StatusOK, views.ImportArea(views.ImportState{Kind: kind}))
	}
	return c.Redirect(http.StatusSeeOther, "/imports")
}

// --- uploads ----------------------------------------------------------------

// rejection is a problem with the upload itself that the import area shows
// in place of a preview.
type rejection string

func (r rejection) Error() string { return string(r) }

// upload is a received file, spooled to a private temporary file.
type upload struct {
	path  string // "" when nothing was kept
	name  string // the file's base name as the browser sent it, for display and the audit log
	group string
}

// receiveUpload reads the multipart form: the file part goes straight to a
// temporary file while its rows are counted, so it is never in memory as a
// whole and a file of more than MaxImportRows rows is refused as soon as the
// row past the limit arrives.
func receiveUpload(c echo.Context, log *slog.Logger) (upload, error) {
	var up upload
	req := c.Request()
	if !strings.HasPrefix(req.Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
		return up, rejection("Choose a CSV file to upload.")
	}
	var (
		file   io.Reader
		closer io.Closer
	)
	if req.MultipartForm != nil {
		// Already parsed: the CSRF token lookup reads the form of clients
		// that send no Sec-Fetch-Site header (browsers do, and stream).
		if v := req.MultipartForm.Value["group"]; len(v) > 0 {
			up.group = v[0]
		}
		if fh := req.MultipartForm.File["file"]; len(fh) > 0 {
			f, err := fh[0].Open()
			if err != nil {
				return up, uploadError(err)
			}
			file, closer, up.name = f, f, fh[0].Filename
		}
	} else {
		mr, err := req.MultipartReader()
		if err != nil {
			return up, uploadError(err)
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				up.discard(log)
				return up, uploadError(err)
			}
			switch part.FormName() {
			case "group":
				b, err := io.ReadAll(io.LimitReader(part, 1024))
				if err != nil {
					up.discard(log)
					return up, uploadError(err)
				}
				up.group = string(b)
			case "file":
				if up.path != "" {
					continue // one file per import
				}
				up.name = part.FileName()
				if err := up.spool(part, log); err != nil {
					return up, err
				}
			}
		}
	}
	if closer != nil {
		defer closeRead(closer)
		if err := up.spool(file, log); err != nil {
			return up, err
		}
	}
	if up.path == "" {
		return up, rejection("Choose a CSV file to upload.")
	}
	up.name = displayName(up.name)
	return up, nil
}

// spool copies the file to a new temporary file, counting rows. On error
// nothing is left on disk.
func (up *upload) spool(r io.Reader, log *slog.Logger) error {
	f, err := os.CreateTemp("", "patchboard-import-*.csv") // 0600, random name
	if err != nil {
		return fmt.Errorf("spool upload: %w", err)
	}
	up.path = f.Name()
	rows := &rowCounter{limit: MaxImportRows + 1} // the header and MaxImportRows rows
	_, err = io.Copy(io.MultiWriter(f, rows), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && rows.count() == 0 {
		err = rejection("The file is empty. Choose a CSV file with a header row.")
	}
	if err != nil {
		up.discard(log)
		if errors.Is(err, errTooManyRows) {
			return rejection(fmt.Sprintf("The file has more than %s rows; at most %s can be imported at once. Split it into smaller files.",
				views.Thousands(MaxImportRows), views.Thousands(MaxImportRows)))
		}
		var r rejection
		if errors.As(err, &r) {
			return r
		}
		return uploadError(err)
	}
	return nil
}

// discard removes the spooled file, if any.
func (up *upload) discard(log *slog.Logger) {
	if up.path != "" {
		removeFile(log, up.path)
		up.path = ""
	}
}

// uploadError maps a failed read of the request body: too large is 413,
// a broken form 400.
func uploadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return TooLarge()
	}
	if errors.Is(err, multipart.ErrMessageTooLarge) {
		return TooLarge()
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he
	}
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("spool upload: %w", err)
	}
	return echo.NewHTTPError(http.StatusBadRequest, "The upload was interrupted or is not a valid form; try again.")
}

// TooLarge is the answer to an upload over MaxUploadBytes.
func TooLarge() *echo.HTTPError {
	return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf(
		"The file is larger than %d MB, the most an import can upload. Split it into files of at most %s rows.",
		MaxUploadBytes>>20, views.Thousands(MaxImportRows)))
}

// displayName keeps a browser-sent file name fit for the page and the audit
// log: the base name, printable, at most 100 characters. It is a label and
// never a path on this server.
func displayName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 100 {
		name = string(r[:100]) + "…"
	}
	if name == "" || name == "." || name == "/" {
		name = "upload.csv"
	}
	return name
}

var errTooManyRows = errors.New("too many rows")

// rowCounter counts the records of a CSV stream that have at least one
// non-blank cell, as the store's readers count rows (blank lines and rows of
// empty cells are skipped; a line break inside quotes does not end a
// record). It fails once the count passes limit, which stops the copy.
type rowCounter struct {
	limit   int
	inQuote bool
	content bool // the current record has a non-blank character
	records int
}

func (r *rowCounter) Write(p []byte) (int, error) {
	for _, b := range p {
		switch {
		case b == '"':
			r.inQuote = !r.inQuote // "" inside quotes toggles twice
		case r.inQuote:
			if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
				r.content = true
			}
		case b == '\n':
			if r.content {
				r.records++
				if r.records > r.limit {
					return 0, errTooManyRows
				}
			}
			r.content = false
		case b == ',' || b == ' ' || b == '\t' || b == '\r':
		default:
			r.content = true
		}
	}
	return len(p), nil
}

// count is the records seen, the last one included when it has no final
// line break.
func (r *rowCounter) count() int {
	if r.content {
		return r.records + 1
	}
	return r.records
}

// closeRead closes a file that was only read: every read's error was
// checked, and closing it loses nothing.
func closeRead(f io.Closer) { _ = f.Close() }

func removeFile(log *slog.Logger, path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("remove import file", slog.String("error", err.Error()))
	}
}

// --- previewed files --------------------------------------------------------

// pendingImport is a previewed file waiting for Import or Cancel.
type pendingImport struct {
	token   string
	kind    views.ImportKind
	userID  int64
	group   string
	path    string
	name    string
	rows    int
	created time.Time
}

// pendingImports holds the previewed files, by random token. Each user has
// at most one per kind (a new preview replaces the last), which bounds the
// disk they use; a token is good only for the user and kind it was made for.
type pendingImports struct {
	mu    sync.Mutex
	items map[string]*pendingImport
	now   func() time.Time
	log   *slog.Logger
}

func newPendingImports(now func() time.Time, log *slog.Logger) *pendingImports {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &pendingImports{items: map[string]*pendingImport{}, now: now, log: log}
}

// put stores p under a new token and returns the token.
func (s *pendingImports) put(p *pendingImport) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	p.token, p.created = hex.EncodeToString(b[:]), s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, q := range s.items {
		if q.userID == p.userID && q.kind == p.kind {
			delete(s.items, tok)
			removeFile(s.log, q.path)
		}
	}
	s.items[p.token] = p
	return p.token
}

// take removes and returns the user's pending import of this kind under
// token; nil when there is none or it has expired.
func (s *pendingImports) take(token string, kind views.ImportKind, userID int64) *pendingImport {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.items[token]
	if p == nil || p.kind != kind || p.userID != userID {
		return nil
	}
	delete(s.items, token)
	if s.now().Sub(p.created) > pendingTTL {
		removeFile(s.log, p.path)
		return nil
	}
	return p
}

// restore puts back an import whose commit failed for a passing reason,
// unless the user has previewed another file meanwhile.
func (s *pendingImports) restore(p *pendingImport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.items {
		if q == p {
			return
		}
		if q.userID == p.userID && q.kind == p.kind {
			removeFile(s.log, p.path)
			return
		}
	}
	s.items[p.token] = p
}

// sweep deletes expired files, or all of them with all.
func (s *pendingImports) sweep(all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, p := range s.items {
		if all || s.now().Sub(p.created) > pendingTTL {
			delete(s.items, tok)
			removeFile(s.log, p.path)
		}
	}
}

// janitor sweeps every minute until ctx ends, then deletes every file.
func (s *pendingImports) janitor(ctx context.Context) {
	if ctx == nil {
		ctx = context.Background()
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.sweep(true)
			return
		case <-t.C:
			s.sweep(false)
		}
	}
}
