package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"patchboard/store"
)

// The notifications' figures: the outbox depth (events a consumer still
// has to take) and the deliveries by channel and result.
func TestNotificationMetrics(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	if _, err := st.AddWebhook(ctx, "https://hooks.example.com/x", []store.EventType{store.EventRingPaused}, "", "ada", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PauseRings(ctx, []store.Ring{store.RingFast}, store.KindQuality, "hold", "ada", now); err != nil {
		t.Fatal(err)
	}
	m := New(st, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.CountDelivery("webhook", "ok")
	m.CountDelivery("webhook", "ok")
	m.CountDelivery("mail", "failed")
	rec := httptest.NewRecorder()
	m.Handler("").ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"patchboard_outbox_events 1\n",
		`patchboard_notify_deliveries_total{channel="webhook",result="ok"} 2`,
		`patchboard_notify_deliveries_total{channel="mail",result="failed"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
