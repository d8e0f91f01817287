package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"patchboard/metrics"
	"patchboard/store"
	"patchboard/web"
)

// serveConfig is the server's configuration: environment first, flags over it.
type serveConfig struct {
	addr              string
	discoveryInterval time.Duration
	insecureCookies   bool
	sessionIdle       time.Duration
	sessionMax        time.Duration
	logLevel          string
	sso               *ssoConfig
	dir               *directoryConfig
	logFormat         string
	// metricsToken is the bearer token /metrics asks for; from the
	// environment only, as secrets are.
	metricsToken string
	// backupDir, when set, gets a backup every backupEvery; the newest
	// backupKeep are kept.
	backupDir   string
	backupEvery time.Duration
	backupKeep  int
	notify      *notifyConfig
}

func (c serveConfig) validate() error {
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return usagef("--addr %q is not host:port", c.addr)
	}
	if c.discoveryInterval < time.Minute {
		return usagef("--discovery-interval must be at least 1m, got %s", c.discoveryInterval)
	}
	if c.sessionIdle < time.Minute || c.sessionMax < c.sessionIdle {
		return usagef("--session-idle must be at least 1m and --session-max at least --session-idle")
	}
	switch c.logLevel {
	case "debug", "info", "warn", "error":
	default:
		return usagef("--log-level must be debug, info, warn or error")
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return usagef("--log-format must be text or json")
	}
	if c.backupDir != "" && (c.backupEvery < time.Minute || c.backupKeep < 1) {
		return usagef("--backup-every must be at least 1m and --backup-keep at least 1")
	}
	return c.sso.validate()
}

func envDuration(e *env, key string, def time.Duration) time.Duration {
	if v := e.getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func envString(e *env, key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(e *env, key string, def int) int {
	if v, err := strconv.Atoi(e.getenv(key)); err == nil {
		return v
	}
	return def
}

func envBool(e *env, key string) bool {
	b, _ := strconv.ParseBool(e.getenv(key))
	return b
}

func cmdServe(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	var c serveConfig
	fs.StringVar(&c.addr, "addr", envString(e, "PATCHBOARD_ADDR", "127.0.0.1:8080"), "address to listen on")
	fs.DurationVar(&c.discoveryInterval, "discovery-interval", envDuration(e, "PATCHBOARD_DISCOVERY_INTERVAL", time.Hour), "time between scheduled discovery runs")
	fs.BoolVar(&c.insecureCookies, "insecure-cookies", envBool(e, "PATCHBOARD_INSECURE_COOKIES"), "send cookies over plain HTTP (no Secure flag)")
	fs.DurationVar(&c.sessionIdle, "session-idle", envDuration(e, "PATCHBOARD_SESSION_IDLE", time.Hour), "sign out after this long without activity")
	fs.DurationVar(&c.sessionMax, "session-max", envDuration(e, "PATCHBOARD_SESSION_MAX", 12*time.Hour), "sign out this long after sign-in")
	fs.StringVar(&c.logLevel, "log-level", envString(e, "PATCHBOARD_LOG_LEVEL", "info"), "debug, info, warn or error")
	c.sso = ssoFlags(e, fs)
	c.dir = directoryFlags(e, fs)
	fs.StringVar(&c.logFormat, "log-format", envString(e, "PATCHBOARD_LOG_FORMAT", "text"), "text (for a terminal) or json (one object a line, for a log collector)")
	c.metricsToken = e.getenv("PATCHBOARD_METRICS_TOKEN")
	fs.StringVar(&c.backupDir, "backup-dir", envString(e, "PATCHBOARD_BACKUP_DIR", ""), "write scheduled backups into this directory (off when empty)")
	fs.DurationVar(&c.backupEvery, "backup-every", envDuration(e, "PATCHBOARD_BACKUP_EVERY", 24*time.Hour), "time between scheduled backups")
	fs.IntVar(&c.backupKeep, "backup-keep", envInt(e, "PATCHBOARD_BACKUP_KEEP", 7), "how many scheduled backups to keep (the oldest go)")
	c.notify = notifyFlags(e, fs)
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		if err := c.sso.secret(e); err != nil {
			return err
		}
		if err := c.notify.load(e); err != nil {
			return err
		}
		if err := c.validate(); err != nil {
			return err
		}
		conn, err := c.dir.connector()
		if err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			c.dir.attach(st, conn)
			if conn != nil {
				// For the alert before the credential expires.
				kind, expires, _ := c.dir.credentialExpiry(conn) // checked by connector()
				if err := st.SetCredentialExpiry(e.ctx, kind, expires); err != nil {
					return err
				}
			}
			return serve(e, st, c)
		})
	}
}

// serve runs the portal and the discovery scheduler until the context ends
// (SIGINT or SIGTERM), then shuts both down gracefully.
func serve(e *env, st *store.Store, c serveConfig) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	if e.getenv("GOGC") == "" {
		// The server keeps little (its live heap is tens of megabytes) and
		// makes its garbage per request: at the default of 100 it collected
		// dozens of times a second under load. Collecting when the heap has
		// grown by four times what is live cut the CPU per request by a
		// quarter (make bench); GOGC in the environment still decides.
		debug.SetGCPercent(400)
	}
	var handler slog.Handler = slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})
	if c.logFormat == "json" {
		handler = slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})
	}
	logger := slog.New(handler)
	if st.DirectorySynced() {
		st.OnSyncDone(logSyncs(logger)) // before anything can sync
	}

	// Held while serving: a restore refuses to replace the database under
	// this process, and a second server on the same file is refused.
	lease, err := st.HoldServerLease()
	if err != nil {
		return err
	}
	defer func() {
		if err := lease.Release(); err != nil {
			logger.Warn("release server lease", "error", err.Error())
		}
	}()

	webCfg := web.Config{InsecureCookies: c.insecureCookies, SessionIdle: c.sessionIdle, SessionMax: c.sessionMax,
		Logger: logger, HTTPS: c.sso.https(), BreakGlass: c.sso.localSignIn == "break-glass",
		DiscoveryInterval: c.discoveryInterval, MetricsToken: c.metricsToken}
	if c.sso.configured() {
		o, err := c.sso.open(e.ctx)
		if err != nil {
			return err
		}
		webCfg.OIDC = o
		logger.Info("single sign-on", "issuer", c.sso.issuer, "redirect_uri", strings.TrimSuffix(c.sso.baseURL, "/")+web.CallbackPath,
			"local_signin", c.sso.localSignIn)
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	// Runs started from the portal stop with the server, not with a request.
	bg, stopBG := context.WithCancel(context.WithoutCancel(e.ctx))
	defer stopBG()
	webCfg.Background = bg
	webCfg.Metrics = metrics.New(st, time.Now, logger)
	srv := &http.Server{
		Handler:           web.New(st, webCfg),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	// "Discovery did not run" is measured from this schedule.
	if err := st.SetDiscoveryInterval(e.ctx, c.discoveryInterval); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		schedule(bg, st, c.discoveryInterval, logger)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		alertSchedule(bg, st, store.SignInSetup{SSO: c.sso.configured(), BreakGlass: c.sso.configured() && c.sso.localSignIn == "break-glass"}, logger)
	}()
	if st.DirectorySynced() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			syncSchedule(bg, st, c.dir.syncInterval)
		}()
		logger.Info("directory", "source", "entra", "sync_interval", c.dir.syncInterval.String(), "write_back", c.dir.writeBack)
	}
	if c.notify != nil {
		source := strings.TrimSuffix(c.sso.baseURL, "/")
		if source == "" {
			source = "patchboard"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.notify.service(st, source, webCfg.Metrics, logger).Run(bg)
		}()
		logger.Info("notifications", "mail", c.notify.mail(), "smtp_host", c.notify.smtp.Host)
	}
	if c.backupDir != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scheduleBackups(bg, st, c, logger)
		}()
	}
	logger.Info("serving", "addr", "http://"+ln.Addr().String(), "discovery_interval", c.discoveryInterval.String())
	fmt.Fprintf(e.stdout, "Patchboard is serving on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stopBG()
		wg.Wait()
		return err
	case <-e.ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopBG() // interrupts a running discovery; its committed batches stay
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// schedule runs discovery at start-up and then every interval, and clears
// expired sessions, until ctx ends.
func schedule(ctx context.Context, st *store.Store, interval time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		// Before the discovery: a due unenrollment leaves it nothing to
		// register.
		tenantChores(ctx, st, logger, time.Now())
		run, err := st.Discover(ctx, store.TriggerSchedule, "scheduler", time.Now())
		switch {
		case err == nil:
			logger.Info("discovery", "run", run.ID, "state", string(run.State), "summary", run.Summary())
		case ctx.Err() != nil:
			return
		case errors.Is(err, store.ErrConflict):
			logger.Info("discovery skipped", "reason", err.Error())
		default:
			logger.Error("discovery failed", "error", err.Error())
		}
		// The blades are fast once their sort and search indexes have taken
		// the run's changes; pages would start this in the background too.
		if err := st.SyncBladeIndexes(ctx); err != nil && ctx.Err() == nil {
			logger.Error("blade index sync failed", "error", err.Error())
		}
		if _, err := st.DeleteExpiredSessions(ctx, time.Now()); err != nil && ctx.Err() == nil {
			logger.Error("session cleanup failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// alertEvery is how often the tenant alerts are evaluated besides after
// every discovery and sync: the conditions that depend on the clock
// (discovery overdue, a credential expiring, a release's SLO at risk). The
// daily readiness assessment is checked for at the same pace.
const alertEvery = 5 * time.Minute

// alertSchedule evaluates the tenant alerts every alertEvery, and runs the
// readiness assessment when none ran for a day, until ctx ends.
func alertSchedule(ctx context.Context, st *store.Store, signIn store.SignInSetup, logger *slog.Logger) {
	tick := time.NewTicker(alertEvery)
	defer tick.Stop()
	for {
		if _, err := st.RunReadinessIfDue(ctx, signIn, time.Now()); err != nil && ctx.Err() == nil {
			logger.Error("readiness assessment failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := st.EvaluateAlerts(ctx, time.Now(), false); err != nil && ctx.Err() == nil {
			logger.Error("alert evaluation failed", "error", err.Error())
		}
	}
}

// tenantChores carries out an unenrollment whose 14 days are over (and
// retries its directory part) and closes the support requests whose
// reactivation window has passed. It runs at start-up and on every tick.
func tenantChores(ctx context.Context, st *store.Store, logger *slog.Logger, now time.Time) {
	if did, err := st.CompleteDueUnenrollment(ctx, now); err != nil && ctx.Err() == nil {
		logger.Error("unenrollment failed; it is retried at the next check", "error", err.Error())
	} else if did {
		logger.Warn("unenrollment carried out: every device was deregistered")
	}
	if n, err := st.CloseLapsedSupportRequests(ctx, now); err != nil && ctx.Err() == nil {
		logger.Error("closing lapsed support requests failed", "error", err.Error())
	} else if n > 0 {
		logger.Info("support requests closed", "count", n)
	}
}

// scheduleBackups writes a backup into c.backupDir every c.backupEvery,
// the first one a period after start-up, keeping the newest c.backupKeep,
// until ctx ends.
func scheduleBackups(ctx context.Context, st *store.Store, c serveConfig, logger *slog.Logger) {
	tick := time.NewTicker(c.backupEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		path, err := st.BackupInto(ctx, c.backupDir, c.backupKeep, start)
		switch {
		case err == nil:
			logger.Info("backup", "path", path, "duration", time.Since(start).String())
		case ctx.Err() != nil:
			return
		default:
			logger.Error("backup failed", "dir", c.backupDir, "error", err.Error())
		}
	}
}
