package web_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"patchboard/store"
	"patchboard/web"
)

// An anonymous client must not make the server read, parse or spool a body
// larger than a form needs, whether it announces its length or not.
func TestBodyLimitBeforeAnyParsing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	big := func() (*bytes.Buffer, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		w.WriteField("email", "admin@example.com")
		fw, _ := w.CreateFormFile("file", "big.bin")
		fw.Write(bytes.Repeat([]byte("x"), 2*web.MaxFormBytes))
		w.Close()
		return &b, w.FormDataContentType()
	}

	t.Run("announced length", func(t *testing.T) {
		b, ct := big()
		res := e.newClient().do(t, http.MethodPost, "/login", b, "Content-Type", ct)
		if res.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(res.body), "larger than 1 MB") {
			t.Errorf("%s, want 413 naming the limit\n%s", res, truncate(res.body))
		}
	})
	t.Run("chunked", func(t *testing.T) {
		b, ct := big()
		res := e.newClient().do(t, http.MethodPost, "/login", io.MultiReader(b), "Content-Type", ct)
		if res.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s, want 413\n%s", res, truncate(res.body))
		}
	})
	t.Run("signed in, any form", func(t *testing.T) {
		c := e.as(t, store.RoleServiceReader)
		body := "_csrf=" + c.csrf(t) + "&tab=ready&columns=" + strings.Repeat("a", 2*web.MaxFormBytes)
		res := c.do(t, http.MethodPost, "/devices/columns", strings.NewReader(body),
			"Content-Type", "application/x-www-form-urlencoded", "HX-Request", "true")
		if res.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s, want 413\n%s", res, truncate(res.body))
		}
	})
	t.Run("a small form still works", func(t *testing.T) {
		c := e.newClient()
		c.loginForm(t)
		res := c.postLogin(t, "nobody@example.com", "wrong", nil)
		if res.status == http.StatusRequestEntityTooLarge {
			t.Errorf("%s: a sign-in form was refused as too large", res)
		}
	})
}
