package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"patchboard/store"
	"patchboard/web"
)

// teeHandler sends every record to both handlers.
type teeHandler struct{ a, b slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.a.Enabled(ctx, l) || h.b.Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.a.Enabled(ctx, r.Level) {
		err = h.a.Handle(ctx, r.Clone())
	}
	if h.b.Enabled(ctx, r.Level) {
		if e := h.b.Handle(ctx, r.Clone()); err == nil {
			err = e
		}
	}
	return err
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h.a.WithAttrs(as), h.b.WithAttrs(as)}
}
func (h teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{h.a.WithGroup(n), h.b.WithGroup(n)}
}

// syncBuffer is a buffer the server's goroutines write log lines into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func TestMetricsRequestLogAndGzip(t *testing.T) {
	t.Parallel()
	var logged syncBuffer
	e := newEnv(t, envOptions{fleet: true, cfg: web.Config{MetricsToken: "metrics-secret"},
		log: slog.NewJSONHandler(&logged, nil)})
	reader := e.as(t, store.RoleServiceReader)
	page := reader.get(t, "/devices?tab=ready").wantStatus(http.StatusOK)
	export := reader.get(t, "/devices/export.csv?tab=ready&columns=device_id").wantStatus(http.StatusOK)
	exported := bytes.Count(export.body, []byte("\n")) - 1

	t.Run("metrics need the token", func(t *testing.T) {
		e.newClient().get(t, "/metrics").wantStatus(http.StatusUnauthorized)
		e.newClient().get(t, "/metrics", "Authorization", "Bearer wrong").wantStatus(http.StatusUnauthorized)
	})

	t.Run("metrics", func(t *testing.T) {
		res := e.newClient().get(t, "/metrics", "Authorization", "Bearer metrics-secret").wantStatus(http.StatusOK)
		body := string(res.body)
		counts, err := e.st.Counts(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`patchboard_http_requests_total{method="GET",route="/devices",status="200"} 1`,
			`patchboard_http_request_duration_seconds_bucket{method="GET",route="/devices",le="+Inf"} 1`,
			`patchboard_devices{status="active",tab="ready"} ` + strconv.Itoa(counts.Status[store.StatusActive]),
			`patchboard_devices_in_ring{ring="broad"} ` + strconv.Itoa(counts.Rings.Broad),
			`patchboard_export_rows_total{export="devices"} ` + strconv.Itoa(exported),
			`patchboard_discovery_runs_total{result="completed",trigger="cli"}`,
			`patchboard_sessions_active `,
			`patchboard_check_failures{check="`,
			`patchboard_db_pool_waits_total{pool="reads"}`,
			`patchboard_outbox_events `,
			`patchboard_metrics_store_errors 0`,
			`go_goroutines `,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})

	t.Run("one log line per request", func(t *testing.T) {
		var found bool
		for _, line := range logged.lines() {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			if rec["msg"] != "request" || rec["route"] != "/devices" {
				continue
			}
			found = true
			if rec["user"] != emailOf(store.RoleServiceReader) || rec["status"] != float64(200) ||
				rec["method"] != "GET" || rec["path"] != "/devices" || rec["request_id"] != page.header.Get("X-Request-Id") {
				t.Errorf("request line %v", rec)
			}
			if _, ok := rec["duration_ms"].(float64); !ok {
				t.Errorf("request line has no duration_ms: %v", rec)
			}
		}
		if !found {
			t.Errorf("no request line for GET /devices in\n%s", strings.Join(logged.lines(), "\n"))
		}
	})

	t.Run("gzip when accepted", func(t *testing.T) {
		for _, path := range []string{"/devices?tab=ready", "/devices/export.csv?tab=ready&columns=device_id"} {
			res := reader.get(t, path, "Accept-Encoding", "gzip").wantStatus(http.StatusOK)
			if res.header.Get("Content-Encoding") != "gzip" {
				t.Errorf("%s: Content-Encoding %q, want gzip", path, res.header.Get("Content-Encoding"))
				continue
			}
			zr, err := gzip.NewReader(bytes.NewReader(res.body))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if path == "/devices?tab=ready" && !regexp.MustCompile(`data-testid="device-table"`).Match(plain) {
				t.Errorf("%s: the unzipped page has no device table", path)
			}
			if strings.HasPrefix(path, "/devices/export") && !bytes.Equal(plain, export.body) {
				t.Errorf("%s: the unzipped export differs from the plain one", path)
			}
		}
	})
}
