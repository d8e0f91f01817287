package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// stalledWriter is a download whose client stopped reading: the first
// write is announced on started, and every write blocks until release is
// closed, then fails.
type stalledWriter struct {
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	<-w.release
	return 0, errors.New("client went away")
}

// TestStalledExportsDoNotStarvePages starts more exports than run at once,
// each to a client that stopped reading. Pages, counts and pings still
// answer at once; the exports past the slots are refused as busy rather
// than queueing without end; and when the clients go, every export ends.
func TestStalledExportsDoNotStarvePages(t *testing.T) {
	if testing.Short() {
		t.Skip("registers 6,000 devices")
	}
	// More rows than an export's walk hands on before its writer must
	// take them: the walk holds its reader while the client is stuck.
	st, _ := bladeFleet(t, 6000)
	st.exports.wait = 200 * time.Millisecond
	cols, err := ParseColumns("all")
	if err != nil {
		t.Fatal(err)
	}
	q := DeviceQuery{Tab: TabReady}
	release := make(chan struct{})
	const exports = 2*exportSlots + 1
	writers := make([]*stalledWriter, exports)
	errs := make(chan error, exports)
	for i := range writers {
		writers[i] = &stalledWriter{started: make(chan struct{}), release: release}
		go func() {
			_, err := st.ExportCSV(context.Background(), writers[i], q, cols, CSVOptions{})
			errs <- err
		}()
	}
	defer func() {
		close(release)
		for range exportSlots {
			if err := <-errs; err == nil {
				t.Error("an export whose client went away reports success")
			}
		}
	}()

	// The exports that got a slot are writing, and stuck.
	stuck := 0
	deadline := time.After(10 * time.Second)
	for stuck < exportSlots {
		for _, w := range writers {
			select {
			case <-w.started:
				stuck++
			default:
			}
		}
		if stuck >= exportSlots {
			break
		}
		stuck = 0
		select {
		case <-deadline:
			t.Fatalf("the exports never started writing: the readers they need are taken")
		case <-time.After(5 * time.Millisecond):
		}
	}

	// Pages do not wait for the stuck exports.
	for i := range 3 * 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := st.DevicePage(ctx, DeviceQuery{Tab: TabNotReady, Limit: 50, Sort: []string{"display_name", "last_checkin", "model"}[i%3]})
		if err == nil {
			err = st.Ping(ctx)
		}
		cancel()
		if err != nil {
			t.Fatalf("page %d while exports are stuck: %v", i, err)
		}
	}

	// The rest are refused as busy, with a message a person can act on.
	for range exports - exportSlots {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrBusy) {
				t.Errorf("an export past the slots: %v, want ErrBusy", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("an export past the slots waited without end")
		}
	}
}
