package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/web"
	"patchboard/web/oidctest"
)

// timedTransport adds up the time the portal waits on the provider.
type timedTransport struct{ waited atomic.Int64 }

func (tt *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := http.DefaultTransport.RoundTrip(r)
	tt.waited.Add(int64(time.Since(start)))
	return res, err
}

// timedHandler adds up the time the portal spends on the sign-in routes.
type timedHandler struct {
	next  http.Handler
	spent atomic.Int64
}

func (th *timedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	th.next.ServeHTTP(w, r)
	if strings.HasPrefix(r.URL.Path, "/auth/oidc") {
		th.spent.Add(int64(time.Since(start)))
	}
}

// BenchmarkSSOSignIn measures a whole single sign-on: /auth/oidc, the
// provider's authorize, and the callback (code exchange, id_token check,
// account, session). server-µs/op is the portal's own time on its two
// routes, without the time it waits on the provider's token endpoint (and
// its key set on the first sign-in): what a sign-in adds beyond the
// provider's round trips.
func BenchmarkSSOSignIn(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "pb.db")
	copyFile(b, templateDB(b, false), path)
	st, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	iss := oidctest.New(time.Now)
	defer iss.Close()
	transport := &timedTransport{}
	ts := httptest.NewUnstartedServer(nil)
	o := newOIDC(b, iss, "http://"+ts.Listener.Addr().String(), testRoleMap, time.Now, &http.Client{Transport: transport})
	handler := &timedHandler{next: web.New(st, web.Config{OIDC: o})}
	ts.Config.Handler = handler
	ts.Start()
	defer ts.Close()
	e := &env{ctx: ctx, path: path, st: st, ts: ts, sso: iss, clock: &fakeClock{t: time.Now()}}
	iss.SignIn(person("bench", withRoles(appRoleReader)))

	signIn := func() {
		c := e.newClient()
		cb := c.startSSO(b)
		if res := c.visit(b, cb); res.status != http.StatusSeeOther {
			b.Fatalf("callback: %d\n%s", res.status, truncate(res.body))
		}
	}
	signIn() // the first fetches the provider's keys
	handler.spent.Store(0)
	transport.waited.Store(0)
	b.ResetTimer()
	for b.Loop() {
		signIn()
	}
	b.StopTimer()
	server := time.Duration(handler.spent.Load()-transport.waited.Load()) / time.Duration(b.N)
	b.ReportMetric(float64(server.Microseconds()), "server-µs/op")
	b.ReportMetric(float64(time.Duration(transport.waited.Load()/int64(b.N)).Microseconds()), "provider-wait-µs/op")
}
