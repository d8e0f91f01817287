package web

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"patchboard/handlers"
)

// limitUploads bounds the body of every POST under /imports/ to
// handlers.MaxUploadBytes, before anything reads it: the CSRF check parses
// the multipart form of clients that send no Sec-Fetch-Site header. A body
// announced as too large is refused at once; one that only turns out too
// large is cut off where it passes the limit, and the answer is 413 whatever
// was reading it then.
func limitUploads(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Method != http.MethodPost || !strings.HasPrefix(req.URL.Path, "/imports/") {
			return next(c)
		}
		if req.ContentLength > handlers.MaxUploadBytes {
			return handlers.TooLarge()
		}
		body := &limitedBody{ReadCloser: http.MaxBytesReader(c.Response(), req.Body, handlers.MaxUploadBytes)}
		req.Body = body
		err := next(c)
		if body.tripped && err != nil {
			// E.g. the CSRF check, whose form parse stopped at the limit,
			// would otherwise say the form has expired.
			return handlers.TooLarge()
		}
		return err
	}
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
