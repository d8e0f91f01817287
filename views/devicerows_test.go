package views

import (
	"html"
	"testing"
	"time"

	"patchboard/store"
)

func TestAppendEscapedMatchesHTMLEscapeString(t *testing.T) {
	tests := []string{
		"", "AP-LT-00123", `<script>"x"&`, "O'Brien & Sons", "a<b>c", `"""`, "&amp;",
		"Ünïcödé — ✓ <", "\x00\xff<", "trailing&", "<leading",
	}
	for _, give := range tests {
		want := html.EscapeString(give)
		if got := string(appendEscaped(nil, give)); got != want {
			t.Errorf("appendEscaped(%q) = %q, want %q", give, got, want)
		}
		if got := string(appendEscaped([]byte("x"), []byte(give))); got != "x"+want {
			t.Errorf("appendEscaped([]byte(%q)) = %q, want %q", give, got, "x"+want)
		}
	}
}

func TestAppendDateTimeMatchesFormat(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []time.Time{
		time.Date(2026, 3, 14, 9, 5, 59, 999, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 0, 0, berlin), // the UTC date is the day before
		time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 7, 4, 12, 30, 0, 0, time.UTC),
		time.Date(10000, 7, 4, 12, 30, 0, 0, time.UTC),
		time.Unix(0, 0),
	}
	for _, give := range tests {
		want := give.UTC().Format("2006-01-02 15:04")
		if got := string(appendDateTime(nil, give)); got != want {
			t.Errorf("appendDateTime(%v) = %q, want %q", give, got, want)
		}
	}
	if got := dateTime(time.Time{}); got != "—" {
		t.Errorf("dateTime(zero) = %q, want a dash", got)
	}
}

// TestTimeColumnsShareOneFormat: every time column of the grid writes its
// cells as the rest of the portal writes times, and its header names the
// zone.
func TestTimeColumnsShareOneFormat(t *testing.T) {
	at := time.Date(2026, 12, 7, 13, 2, 59, 0, time.UTC)
	r := store.DeviceRow{Device: store.Device{LastCheckin: at}, Registration: store.Registration{RingAt: at, RegisteredAt: at}}
	for _, key := range []string{"last_checkin", "registered_on", "ring_assigned_at"} {
		if got, want := string(cellText(key)(nil, &r))+" UTC", dateTime(at); got != want {
			t.Errorf("%s cell %q, want %q", key, got, want)
		}
		if zoneMark(key) != " (UTC)" {
			t.Errorf("the %s header does not name the zone", key)
		}
	}
	if zoneMark("model") != "" {
		t.Error("the model header names a zone")
	}
}
