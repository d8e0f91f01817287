package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	gomail "github.com/wneessen/go-mail"

	"patchboard/store"
)

// smtpServer is a real SMTP server (go-smtp) inside the test: STARTTLS with
// a certificate of its own, AUTH PLAIN, and the messages it accepted.
type smtpServer struct {
	port   int
	roots  *x509.CertPool
	mu     sync.Mutex
	msgs   []received
	refuse int // refuse this many DATA commands with a transient error
}

type received struct {
	from string
	to   []string
	msg  *mail.Message
	body []byte
}

const smtpUser, smtpPassword = "patchboard", "correct horse battery staple"

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	cert, roots := selfSigned(t)
	s := &smtpServer{roots: roots}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

func (s *smtpServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }

type smtpSession struct {
	srv    *smtpServer
	authed bool
	from   string
	to     []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != smtpUser || pass != smtpPassword {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }
func (s *smtpSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if s.srv.refuse > 0 {
		s.srv.refuse--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	s.srv.msgs = append(s.srv.msgs, received{from: s.from, to: s.to, msg: msg, body: body})
	return nil
}
func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

func (s *smtpServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *smtpServer) to(addr string) []received {
	var out []received
	for _, r := range s.received() {
		for _, to := range r.to {
			if to == addr {
				out = append(out, r)
			}
		}
	}
	return out
}

func mailer(st *store.Store, srv *smtpServer, c *clock) *Mailer {
	return &Mailer{Store: st, Now: c.Now, DigestHour: DefaultDigestHour, SMTP: SMTP{Host: "localhost", Port: srv.port,
		Username: smtpUser, Password: smtpPassword, From: "patchboard@example.com", TLS: TLSStartTLS,
		TLSConfig: &tls.Config{RootCAs: srv.roots, ServerName: "localhost"}}}
}

func drainMail(t *testing.T, m *Mailer) {
	t.Helper()
	for range 100 {
		more, err := m.Pass(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return
		}
	}
	t.Fatal("the mailer never finished")
}

// parts reads a multipart/alternative mail's text and HTML parts.
func parts(t *testing.T, r received) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", r.msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(r.msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return text, html
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // multipart decodes quoted-printable
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
}

func addContact(t *testing.T, st *store.Store, name, email, lang string, area store.Area) {
	t.Helper()
	if _, err := st.SaveContact(context.Background(), store.Contact{Name: name, Email: email, Language: lang, Area: area}, "ada@example.com", t0); err != nil {
		t.Fatal(err)
	}
}

// Alerts go to the contacts of their area, as text and HTML, over STARTTLS
// with authentication; a refused session is retried after the backoff.
func TestMailAlertsToTheAreasContacts(t *testing.T) {
	st := openStore(t)
	srv := startSMTP(t)
	c := &clock{now: t0} // noon: the digest is due too
	addContact(t, st, "Ada Lovelace", "ada@example.com", "en-GB", store.AreaDevices)
	addContact(t, st, "Bo Berg", "bo@example.com", "de", store.AreaUpdates)
	srv.refuse = 1
	m := mailer(st, srv, c)
	drainMail(t, m)
	if n := len(srv.received()); n != 0 {
		t.Fatalf("%d mails accepted while the server refused", n)
	}
	c.Add(store.RetryBase)
	drainMail(t, m)

	var alert received
	for _, r := range srv.to("ada@example.com") {
		if strings.Contains(r.msg.Header.Get("Subject"), "Device Registration group is empty") {
			alert = r
		}
	}
	if alert.msg == nil {
		t.Fatalf("Ada got no mail about the empty Device Registration group; got %d mails", len(srv.received()))
	}
	h := alert.msg.Header
	if alert.from != "patchboard@example.com" || !strings.Contains(h.Get("To"), "Ada Lovelace") ||
		h.Get("Content-Language") != "en" || h.Get("Message-Id") == "" || h.Get("Date") == "" ||
		!strings.HasPrefix(h.Get("Subject"), "[Patchboard] Critical alert:") {
		t.Fatalf("headers: from %q, %v", alert.from, h)
	}
	text, html := parts(t, alert)
	if !strings.Contains(text, "Recommended action: Add the devices") || !strings.Contains(html, "<h1") ||
		!strings.Contains(html, "Recommended action: Add the devices") {
		t.Fatalf("parts:\n%s\n---\n%s", text, html)
	}
	for _, r := range srv.to("bo@example.com") {
		if strings.Contains(r.msg.Header.Get("Subject"), "Device Registration") {
			t.Fatal("an alert of Devices went to the Updates contact")
		}
	}
	log, err := st.MailLog(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	langs := map[string]string{}
	for _, l := range log {
		langs[l.Recipient] = l.Language
	}
	if langs["ada@example.com"] != "en-GB" || langs["bo@example.com"] != "de" {
		t.Fatalf("languages recorded = %v", langs)
	}
	before := len(srv.received())
	drainMail(t, m)
	if len(srv.received()) != before {
		t.Fatal("mails were sent twice")
	}
}

// The daily digest goes to each area's contacts once a day, after the hour.
func TestMailDailyDigest(t *testing.T) {
	st := openStore(t)
	srv := startSMTP(t)
	addContact(t, st, "Ada Lovelace", "ada@example.com", "en", store.AreaDevices)
	addContact(t, st, "Bo Berg", "bo@example.com", "en", store.AreaUpdates)
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	c := &clock{now: day.Add(6 * time.Hour)}
	m := mailer(st, srv, c)
	digests := func(to string) []received {
		var out []received
		for _, r := range srv.to(to) {
			if strings.Contains(r.msg.Header.Get("Subject"), "Daily digest") {
				out = append(out, r)
			}
		}
		return out
	}
	drainMail(t, m)
	if n := len(digests("ada@example.com")); n != 0 {
		t.Fatalf("%d digests before %d:00", n, DefaultDigestHour)
	}
	c.Add(2 * time.Hour)
	drainMail(t, m)
	c.Add(time.Hour)
	drainMail(t, m)
	ada, bo := digests("ada@example.com"), digests("bo@example.com")
	if len(ada) != 1 || len(bo) != 1 {
		t.Fatalf("digests: Ada %d, Bo %d; want one each", len(ada), len(bo))
	}
	text, html := parts(t, ada[0])
	for _, want := range []string{"Devices per tab", "Not ready: 0", "New failures by check", "Devices per ring"} {
		if !strings.Contains(text, want) {
			t.Fatalf("Devices digest lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(html, "<h2") || !strings.Contains(ada[0].msg.Header.Get("Subject"), "Devices, 2026-11-02") {
		t.Fatalf("digest HTML or subject: %q", ada[0].msg.Header.Get("Subject"))
	}
	if text, _ := parts(t, bo[0]); !strings.Contains(text, "Releases reaching rings") {
		t.Fatalf("Updates digest:\n%s", text)
	}
	c.Add(24 * time.Hour)
	drainMail(t, m)
	if len(digests("ada@example.com")) != 2 {
		t.Fatal("no digest the next day")
	}
}

// Support request changes reach the primary contact on create, assign and
// mitigate; notes do not.
func TestMailSupportChangesToThePrimaryContact(t *testing.T) {
	st := openStore(t)
	srv := startSMTP(t)
	c := &clock{now: t0}
	m := mailer(st, srv, c)
	m.DigestHour = 23
	var msgs []*gomail.Msg
	for i, change := range []string{"created", "note", "assigned", "mitigated"} {
		data, _ := json.Marshal(store.SupportChange{RequestID: 7, Title: "Printers offline", Change: change, State: "active",
			By: "ada@example.com", PrimaryContactName: "Cy Chen", PrimaryContactEmail: "cy@example.com"})
		got, recs := m.compose(store.OutboxEvent{ID: int64(i + 1), Type: store.EventSupportChanged, Data: string(data)}, nil, t0)
		if (change == "note") != (len(got) == 0) || len(got) != len(recs) {
			t.Fatalf("%s: %d mails", change, len(got))
		}
		msgs = append(msgs, got...)
	}
	if err := m.send(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	got := srv.to("cy@example.com")
	if len(got) != 3 {
		t.Fatalf("Cy got %d mails, want 3", len(got))
	}
	for i, verb := range []string{"was raised", "was assigned", "was mitigated"} {
		if s := got[i].msg.Header.Get("Subject"); !strings.Contains(s, "Support request 7: Printers offline "+verb) {
			t.Fatalf("mail %d subject %q", i, s)
		}
	}
}
