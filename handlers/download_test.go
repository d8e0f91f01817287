package handlers

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestDownloadCutsOffAStalledClient serves an endless download to a client
// that stops reading: the write fails within the stall instead of blocking
// for as long as the client likes, and the connection carries no deadline
// into the next response.
func TestDownloadCutsOffAStalledClient(t *testing.T) {
	const stall = 200 * time.Millisecond
	result := make(chan error, 1)
	e := echo.New()
	e.GET("/file", func(c echo.Context) error {
		dl := newDownload(c, "f.csv", "text/csv", stall)
		defer dl.done()
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for i := 0; i < 1<<14; i++ { // 1 GiB: far past any socket buffer
			if _, err := dl.Write(chunk); err != nil {
				result <- err
				return nil
			}
		}
		result <- nil
		return nil
	})
	ts := httptest.NewServer(e)
	defer ts.Close()

	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-result:
		if err == nil {
			t.Fatal("a 1 GiB download to a client that reads nothing reports success")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the download still waits for a client that stopped reading")
	}

	// A download that is read goes through, headers and all.
	res, err := http.Get(ts.URL + "/file")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if got := res.Header.Get("Content-Disposition"); got != `attachment; filename="f.csv"` {
		t.Errorf("Content-Disposition %q", got)
	}
	n, _ := io.CopyN(io.Discard, res.Body, 8<<20)
	if n != 8<<20 {
		t.Errorf("read %d bytes of a download that is read", n)
	}
}
