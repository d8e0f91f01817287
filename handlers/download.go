package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// DefaultWriteStall is how long one write of a download may wait for the
// client to read, unless Deps.WriteStall says otherwise.
const DefaultWriteStall = 30 * time.Second

// RetryAfterBusy is the Retry-After, in seconds, of a request refused with
// store.ErrBusy.
const RetryAfterBusy = "30"

// download is the body of a file download. Its headers go out with the
// first byte, so an export refused before it writes anything (busy, a bad
// query) is still an error page and not a file; and each write must finish
// within stall, so a client that stops reading lets go of the export slot
// and the database reader the export holds.
type download struct {
	res         *echo.Response
	rc          *http.ResponseController
	name, ctype string
	stall       time.Duration
}

func newDownload(c echo.Context, name, contentType string, stall time.Duration) *download {
	if stall <= 0 {
		stall = DefaultWriteStall
	}
	res := c.Response()
	return &download{res: res, rc: http.NewResponseController(res), name: name, ctype: contentType, stall: stall}
}

func (d *download) Write(p []byte) (int, error) {
	if !d.res.Committed {
		h := d.res.Header()
		h.Set(echo.HeaderContentType, d.ctype)
		h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s"`, d.name))
	}
	if err := d.rc.SetWriteDeadline(time.Now().Add(d.stall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return d.res.Write(p)
}

// done lifts the write deadline: without a server-wide WriteTimeout it
// would otherwise stay on the connection and cut off the next response.
func (d *download) done() {
	if err := d.rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return // the connection is gone; nothing follows on it
	}
}
