package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/web"
)

// apiBatch is the batch size the registration API is benchmarked with: what
// a provisioning service sends at a time.
const apiBatch = 1000

// benchRecord is a realistic inventory record: every field set.
func benchRecord(n int, model string) map[string]any {
	return map[string]any{
		"device_id": fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n), "display_name": fmt.Sprintf("CPC-AP-%07d", n),
		"serial_number": fmt.Sprintf("%04d-%04d-%04d", n/100000000, n/10000%10000, n%10000), "manufacturer": "Microsoft Corporation",
		"model": model, "os": "Windows", "os_version": "10.0.22631.4460", "edition": "Enterprise", "architecture": "x64",
		"join_type": "entra-joined", "ownership": "company", "management": "intune", "workload_windows_update": "",
		"workload_device_configuration": "", "workload_office_c2r": "", "last_checkin": "2026-11-01T09:30:00Z",
		"device_kind": "cloud-pc", "account_enabled": true, "wu_policy_source": "intune", "office_policy_source": "cdn",
		"unreachable_endpoints": []string{}, "internet_connected": true,
	}
}

// benchBodies encodes count batches of apiBatch records starting at record
// first, so that encoding is not timed.
func benchBodies(b *testing.B, first, count int, model string) [][]byte {
	bodies := make([][]byte, count)
	for i := range bodies {
		recs := make([]map[string]any, apiBatch)
		for j := range recs {
			recs[j] = benchRecord(first+i*apiBatch+j, model)
		}
		body, err := json.Marshal(recs)
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = body
	}
	return bodies
}

// BenchmarkAPIPutDevices sends PUT /api/v1/devices over loopback in batches
// of 1,000 records and reports records per second: new devices, changed
// devices and unchanged ones, from one client and from four at once (the
// writes serialise on SQLite's one writer; the JSON work overlaps).
func BenchmarkAPIPutDevices(b *testing.B) {
	for _, clients := range []int{1, 4} {
		for _, kind := range []string{"new", "changed", "unchanged"} {
			b.Run(fmt.Sprintf("%s/clients=%d", kind, clients), func(b *testing.B) {
				ctx := context.Background()
				st, err := store.Open(ctx, filepath.Join(b.TempDir(), "pb.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				_, token, err := st.CreateToken(ctx, "bench", store.RoleServiceAdmin, "bench")
				if err != nil {
					b.Fatal(err)
				}
				srv := httptest.NewServer(web.New(st, web.Config{}))
				defer srv.Close()
				hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
				put := func(body []byte) {
					req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/devices", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/json")
					res, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					msg, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("%s: %s", res.Status, msg)
					}
				}

				bodies := benchBodies(b, 0, b.N, "Cloud PC Enterprise 2vCPU/8GB/128GB")
				if kind != "new" {
					// The devices exist; "changed" sends them with a new model.
					for _, body := range bodies {
						put(body)
					}
					if kind == "changed" {
						bodies = benchBodies(b, 0, b.N, "Cloud PC Enterprise 4vCPU/16GB/256GB")
					}
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start, cpu0 := time.Now(), processCPU()
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := int(next.Add(1)) - 1
							if i >= len(bodies) {
								return
							}
							put(bodies[i])
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N*apiBatch)/elapsed.Seconds(), "records/s")
				b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(b.N), "ms/batch")
				// CPU time of the process (server and client) per batch: less
				// sensitive than wall time to other work on the machine.
				b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/batch")
			})
		}
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
