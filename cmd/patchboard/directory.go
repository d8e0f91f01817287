package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"patchboard/store"
	"patchboard/store/graph"
)

// directoryConfig says where the directory comes from (SPEC §11): local
// (imports, the API and the portal) or entra (the Microsoft Graph
// connector). Settings come from the environment, flags win; secrets come
// only from the environment or a file (*_FILE), never from flags.
type directoryConfig struct {
	mode         string
	graph        graph.Config
	certFile     string
	syncInterval time.Duration
	writeBack    string
	catalog      string // on: each sync reads releases from the Windows Update catalog
	// secretExpires is when the client secret expires (YYYY-MM-DD, as the
	// Entra admin center shows it): the secret does not say, and an alert
	// warns before it does.
	secretExpires string
	// secretErr is a problem reading the secret's file, reported by open.
	secretErr error
}

// directoryFlags registers the directory settings on fs.
func directoryFlags(e *env, fs *flag.FlagSet) *directoryConfig {
	c := &directoryConfig{}
	fs.StringVar(&c.mode, "directory", envString(e, "PATCHBOARD_DIRECTORY", "local"), "where devices and groups come from: local or entra (Microsoft Graph)")
	fs.StringVar(&c.graph.TenantID, "graph-tenant-id", e.getenv("PATCHBOARD_GRAPH_TENANT_ID"), "Entra directory (tenant) ID or domain")
	fs.StringVar(&c.graph.ClientID, "graph-client-id", e.getenv("PATCHBOARD_GRAPH_CLIENT_ID"), "application (client) ID of the app registration")
	fs.StringVar(&c.certFile, "graph-certificate-file", e.getenv("PATCHBOARD_GRAPH_CERTIFICATE_FILE"), "PEM file with the app's certificate and private key (instead of a client secret)")
	fs.StringVar(&c.graph.RegistrationGroup, "graph-registration-group", e.getenv("PATCHBOARD_GRAPH_REGISTRATION_GROUP"), "object ID of the Entra group that is the Device Registration group")
	fs.StringVar(&c.graph.GraphURL, "graph-url", envString(e, "PATCHBOARD_GRAPH_URL", graph.DefaultGraphURL), "Microsoft Graph endpoint (national clouds differ)")
	fs.StringVar(&c.graph.LoginURL, "graph-login-url", envString(e, "PATCHBOARD_GRAPH_LOGIN_URL", graph.DefaultLoginURL), "Microsoft identity platform endpoint (national clouds differ)")
	fs.DurationVar(&c.syncInterval, "graph-sync-interval", envDuration(e, "PATCHBOARD_GRAPH_SYNC_INTERVAL", 15*time.Minute), "time between directory syncs (each discovery syncs first too)")
	fs.StringVar(&c.writeBack, "graph-write-back", envString(e, "PATCHBOARD_GRAPH_WRITE_BACK", "off"), "on: keep the ring groups in Entra ID equal to the rings")
	fs.StringVar(&c.graph.RingGroupPrefix, "graph-ring-group-prefix", envString(e, "PATCHBOARD_GRAPH_RING_GROUP_PREFIX", graph.DefaultRingGroupPrefix), "name of the ring groups before Test, First, Fast, Broad")
	fs.StringVar(&c.catalog, "graph-release-catalog", envString(e, "PATCHBOARD_GRAPH_RELEASE_CATALOG", "on"), "on: each sync adds the quality updates of the Windows Update catalog as releases")
	fs.StringVar(&c.secretExpires, "graph-client-secret-expires", e.getenv("PATCHBOARD_GRAPH_CLIENT_SECRET_EXPIRES"), "date the client secret expires (YYYY-MM-DD), for the alert before it does")
	c.graph.ClientSecret, c.secretErr = secret(e, "PATCHBOARD_GRAPH_CLIENT_SECRET")
	return c
}

// credentialExpiry is what conn signs in with and when that expires: the
// certificate's own date, or the client secret's as configured; zero when
// unknown.
func (c *directoryConfig) credentialExpiry(conn *graph.Connector) (string, time.Time, error) {
	if t := conn.CertificateExpiry(); !t.IsZero() {
		return "certificate", t, nil
	}
	if c.secretExpires == "" {
		return "client secret", time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(c.secretExpires))
	if err != nil {
		return "", time.Time{}, usagef("--graph-client-secret-expires (PATCHBOARD_GRAPH_CLIENT_SECRET_EXPIRES) must be a date such as 2027-06-30, got %q", c.secretExpires)
	}
	return "client secret", t, nil
}

// connector checks the settings and returns the Graph connector, or nil
// for a local directory.
func (c *directoryConfig) connector() (*graph.Connector, error) {
	switch c.mode {
	case "local":
		return nil, nil
	case "entra":
	default:
		return nil, usagef("--directory (PATCHBOARD_DIRECTORY) must be local or entra, got %q", c.mode)
	}
	if c.secretErr != nil {
		return nil, c.secretErr
	}
	if c.syncInterval < time.Minute {
		return nil, usagef("--graph-sync-interval (PATCHBOARD_GRAPH_SYNC_INTERVAL) must be at least 1m, got %s", c.syncInterval)
	}
	if c.writeBack != "on" && c.writeBack != "off" {
		return nil, usagef("--graph-write-back (PATCHBOARD_GRAPH_WRITE_BACK) must be on or off, got %q", c.writeBack)
	}
	if c.catalog != "on" && c.catalog != "off" {
		return nil, usagef("--graph-release-catalog (PATCHBOARD_GRAPH_RELEASE_CATALOG) must be on or off, got %q", c.catalog)
	}
	cfg := c.graph
	if c.certFile != "" {
		b, err := os.ReadFile(c.certFile)
		if err != nil {
			return nil, usagef("PATCHBOARD_GRAPH_CERTIFICATE_FILE: %s", errors.Unwrap(err))
		}
		cfg.Certificate = b
	}
	conn, err := graph.New(cfg, nil)
	if err != nil {
		return nil, usagef("%s", err)
	}
	if _, _, err := c.credentialExpiry(conn); err != nil {
		return nil, err
	}
	return conn, nil
}

// attach makes conn (when not nil) the store's directory source, and its
// ring writer when write-back is on.
func (c *directoryConfig) attach(st *store.Store, conn *graph.Connector) {
	if conn == nil {
		return
	}
	var rings store.RingWriter
	if c.writeBack == "on" {
		rings = conn
	}
	st.SetDirectory(conn, rings)
	c.attachCatalog(st, conn)
	if rings != nil {
		st.SetUpdatePolicyWriter(conn) // the update ring policies go with the rings
	}
}

// attachCatalog makes the syncs read releases from the catalog unless it
// is turned off.
func (c *directoryConfig) attachCatalog(st *store.Store, conn *graph.Connector) {
	if c.catalog == "on" {
		st.SetReleaseCatalog(conn)
	}
}

// syncSchedule syncs the directory every interval until ctx ends. (Each
// discovery syncs first as well, the one at start-up included.)
func syncSchedule(ctx context.Context, st *store.Store, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_, _ = st.SyncDirectory(ctx, store.TriggerSchedule, "scheduler") // recorded, and logged by logSyncs
	}
}

// logSyncs logs every sync and write-back, whatever started it (the
// scheduler, a discovery, the portal's button). An error names what failed
// (and the permission to grant); it never holds a secret or a token.
func logSyncs(logger *slog.Logger) func(store.SyncRun, error) {
	return func(run store.SyncRun, err error) {
		if err != nil {
			logger.Error("directory "+string(run.Kind)+" failed", "run", run.ID, "trigger", string(run.Trigger), "error", err.Error())
			return
		}
		logger.Info("directory "+string(run.Kind), "run", run.ID, "trigger", string(run.Trigger), "summary", run.Summary())
	}
}

func cmdSync(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	dir := directoryFlags(e, fs)
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		conn, err := dir.connector()
		if err != nil {
			return err
		}
		if conn == nil {
			return usagef("the directory is local: set PATCHBOARD_DIRECTORY=entra (or --directory entra) and the PATCHBOARD_GRAPH_* settings to sync from Microsoft Entra ID")
		}
		return withStore(e, *db, func(st *store.Store) error {
			st.SetDirectory(conn, nil)
			dir.attachCatalog(st, conn)
			run, err := st.SyncDirectory(e.ctx, store.TriggerCLI, cliActor(e))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "directory sync run %d %s in %s: %s\n", run.ID, run.State,
				run.FinishedAt.Sub(run.StartedAt).Round(time.Second), run.Summary())
			return nil
		})
	}
}
