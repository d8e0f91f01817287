package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWebhookDelivery: the dispatcher delivers signed events to a
// receiver on loopback that checks every signature; issue 13 asks for at
// least 500 events/s. Each iteration delivers 1,000 events (ring pauses
// and resumes written beforehand, untimed).
func BenchmarkWebhookDelivery(b *testing.B) {
	const pairs = 500
	st := openStore(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if Verify(testSecret, r.Header.Get(SignatureHeader), body, time.Now(), DefaultTolerance) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	hook := subscribe(b, st, srv.URL)
	d := &Webhooks{Store: st, Source: "https://patchboard.example.com"}
	ctx := context.Background()
	var wall, cpu time.Duration
	at := time.Now().Add(-time.Hour)
	for i := range b.N {
		b.StopTimer()
		pauseAndResume(b, st, pairs, at.Add(time.Duration(i)*pairs*time.Minute))
		b.StartTimer()
		start, cpu0 := time.Now(), benchCPU()
		for {
			more, err := d.Pass(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !more {
				break
			}
		}
		wall, cpu = wall+time.Since(start), cpu+benchCPU()-cpu0
	}
	b.StopTimer()
	log, err := st.WebhookDeliveries(ctx, hook.ID, 1)
	if err != nil || len(log) != 1 || !log[0].OK() {
		b.Fatalf("last delivery %+v (%v)", log, err)
	}
	events := float64(b.N * 2 * pairs)
	b.ReportMetric(events/wall.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/events, "cpu-µs/event")
}

// benchCPU is the CPU time of the process (the receiver's included: it runs
// in the same process), which a shared machine distorts less than the wall clock.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
