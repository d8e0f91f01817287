// Package metrics is what the server tells Prometheus: the counters it keeps
// as requests, exports and imports happen, and the figures it reads from
// the store when scraped. It has a registry of its own (no global one), served
// by promhttp, optionally behind a bearer token. Names are
// patchboard_<area>_<unit>.
package metrics

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"patchboard/store"
)

// Metrics holds the server's registry and the counters it updates. A nil
// *Metrics counts nothing, so code paths without metrics need no checks.
type Metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	exportRows *prometheus.CounterVec
	importRows *prometheus.CounterVec
	deliveries *prometheus.CounterVec
}

// New builds the registry: the Go runtime and process collectors, the
// counters, and a collector that reads st when scraped; now is the clock
// that says which sessions are active.
func New(st *store.Store, now func() time.Time, log *slog.Logger) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchboard_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "patchboard_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		exportRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchboard_export_rows_total",
			Help: "Rows written by CSV exports, by what was exported (devices, audit).",
		}, []string{"export"}),
		importRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchboard_import_rows_total",
			Help: "Rows imported, by what was imported (devices, members).",
		}, []string{"import"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchboard_notify_deliveries_total",
			Help: "Webhook requests and e-mails sent from the outbox, by channel (webhook, mail) and result (ok, failed).",
		}, []string{"channel", "result"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.exportRows, m.importRows, m.deliveries,
		&storeCollector{st: st, now: now, log: log},
	)
	return m
}

// ObserveRequest counts one answered request. route is the route's pattern
// ("/groups/:id"), never the URL, so that the label set stays small.
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(took.Seconds())
}

// AddExportRows counts rows an export wrote.
func (m *Metrics) AddExportRows(export string, n int) {
	if m != nil && n > 0 {
		m.exportRows.WithLabelValues(export).Add(float64(n))
	}
}

// AddImportRows counts rows an import wrote.
func (m *Metrics) AddImportRows(imp string, n int) {
	if m != nil && n > 0 {
		m.importRows.WithLabelValues(imp).Add(float64(n))
	}
}

// CountDelivery counts one webhook request or e-mail sent from the outbox.
func (m *Metrics) CountDelivery(channel, result string) {
	if m != nil {
		m.deliveries.WithLabelValues(channel, result).Inc()
	}
}

// Handler serves the registry in the Prometheus exposition format. With a
// token, a request must carry "Authorization: Bearer TOKEN" (401
// otherwise).
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="patchboard-metrics"`)
			http.Error(w, "send the metrics token: Authorization: Bearer TOKEN", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// storeCollector reads the store's figures at each scrape.
type storeCollector struct {
	st  *store.Store
	now func() time.Time
	log *slog.Logger
}

var (
	devicesDesc = prometheus.NewDesc("patchboard_devices",
		"Devices on the blades, by tab and status.", []string{"tab", "status"}, nil)
	ringDesc = prometheus.NewDesc("patchboard_devices_in_ring",
		"Registered devices by deployment ring.", []string{"ring"}, nil)
	checkDesc = prometheus.NewDesc("patchboard_check_failures",
		"Devices failing a check now, by check id.", []string{"check"}, nil)
	runsDesc = prometheus.NewDesc("patchboard_discovery_runs_total",
		"Finished discovery runs, by trigger and result (completed, failed, interrupted).", []string{"trigger", "result"}, nil)
	runSecondsDesc = prometheus.NewDesc("patchboard_discovery_run_seconds_total",
		"Time spent in finished discovery runs, by trigger and result.", []string{"trigger", "result"}, nil)
	sessionsDesc = prometheus.NewDesc("patchboard_sessions_active",
		"Signed-in sessions that have not expired.", nil, nil)
	poolWaitsDesc = prometheus.NewDesc("patchboard_db_pool_waits_total",
		"Times a caller waited for a database connection, by pool.", []string{"pool"}, nil)
	poolWaitDesc = prometheus.NewDesc("patchboard_db_pool_wait_seconds_total",
		"Time callers waited for a database connection, by pool.", []string{"pool"}, nil)
	poolInUseDesc = prometheus.NewDesc("patchboard_db_pool_connections_in_use",
		"Database connections in use, by pool.", []string{"pool"}, nil)
	outboxDesc = prometheus.NewDesc("patchboard_outbox_events",
		"Events in the outbox that a webhook subscription or the mail sender has still to take.", nil, nil)
	scrapeErrDesc = prometheus.NewDesc("patchboard_metrics_store_errors",
		"1 when reading the store's figures failed at this scrape (the error is logged).", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{devicesDesc, ringDesc, checkDesc, runsDesc, runSecondsDesc,
		sessionsDesc, poolWaitsDesc, poolWaitDesc, poolInUseDesc, outboxDesc, scrapeErrDesc} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failed := 0.0
	fail := func(what string, err error) {
		failed = 1
		c.log.Error("metrics: read "+what, slog.String("error", err.Error()))
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}

	if counts, err := c.st.Counts(ctx); err != nil {
		fail("device counts", err)
	} else {
		for _, s := range store.Statuses {
			gauge(devicesDesc, float64(counts.Status[s]), string(s.Tab()), string(s))
		}
		for _, r := range store.Rings {
			gauge(ringDesc, float64(counts.Rings.Get(r)), string(r))
		}
	}
	if checks, err := c.st.CheckFailureCounts(ctx); err != nil {
		fail("check failures", err)
	} else {
		for id, n := range checks {
			gauge(checkDesc, float64(n), string(id))
		}
	}
	if runs, err := c.st.DiscoveryRunStats(ctx); err != nil {
		fail("discovery runs", err)
	} else {
		for _, r := range runs {
			counter(runsDesc, float64(r.Runs), string(r.Trigger), string(r.State))
			counter(runSecondsDesc, r.Seconds, string(r.Trigger), string(r.State))
		}
	}
	if n, err := c.st.ActiveSessions(ctx, c.now()); err != nil {
		fail("sessions", err)
	} else {
		gauge(sessionsDesc, float64(n))
	}
	if n, err := c.st.OutboxDepth(ctx); err != nil {
		fail("outbox", err)
	} else {
		gauge(outboxDesc, float64(n))
	}
	for _, p := range c.st.PoolStats() {
		counter(poolWaitsDesc, float64(p.WaitCount), p.Pool)
		counter(poolWaitDesc, p.WaitDuration.Seconds(), p.Pool)
		gauge(poolInUseDesc, float64(p.InUse), p.Pool)
	}
	gauge(scrapeErrDesc, failed)
}
