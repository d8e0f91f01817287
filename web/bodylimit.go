package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"patchboard/handlers"
)

// MaxFormBytes bounds the body of every request that is neither an import
// upload nor an API call: sign-in, device actions, group edits and the rest
// are forms of a few kilobytes at most.
const MaxFormBytes = 1 << 20

// bodyLimit is the most a request to path may send.
func bodyLimit(method, path string) int64 {
	switch {
	case method == http.MethodPost && strings.HasPrefix(path, "/imports/"):
		return handlers.MaxUploadBytes
	case method == http.MethodPost && strings.HasPrefix(path, "/tenant/support/"):
		return handlers.MaxSupportBody // attachments of up to 10 MB each
	case isAPIPath(path):
		return handlers.MaxAPIBody
	default:
		return MaxFormBytes
	}
}

// limitBodies bounds every request body before anything reads it: the CSRF
// check parses the (multipart) form of clients that send no Sec-Fetch-Site
// header, anonymous ones included, and a form parse spools large files to
// disk. A body announced as too large is refused at once; one that only
// turns out too large (chunked) is cut off where it passes the limit, and
// the answer is 413 whatever was reading it then. The API keeps its own
// answers (JSON errors) and only gets the cut-off.
func limitBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Body == nil || req.Body == http.NoBody {
			return next(c)
		}
		limit := bodyLimit(req.Method, req.URL.Path)
		api := isAPIPath(req.URL.Path)
		if req.ContentLength > limit && !api {
			return tooLarge(limit)
		}
		body := &limitedBody{ReadCloser: http.MaxBytesReader(c.Response(), req.Body, limit)}
		req.Body = body
		err := next(c)
		if body.tripped && err != nil && !api {
			// E.g. the CSRF check, whose form parse stopped at the limit,
			// would otherwise say the form has expired.
			return tooLarge(limit)
		}
		return err
	}
}

// tooLarge is the 413 for a body over limit.
func tooLarge(limit int64) error {
	if limit == handlers.MaxUploadBytes {
		return handlers.TooLarge()
	}
	return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf(
		"The request is larger than %d MB, the most this page accepts. Reload the page and try again.", limit>>20))
}

// limitedBody remembers whether the limit was reached.
type limitedBody struct {
	io.ReadCloser
	tripped bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if err != nil && errors.As(err, &mbe) {
		b.tripped = true
	}
	return n, err
}
