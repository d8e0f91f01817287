package views

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/a-h/templ"

	"patchboard/store"
)

// deviceRows renders the rows of a blade page.
//
// It is written in Go rather than templ because it is the portal's hot loop:
// 50 to 200 rows of about ten cells on every blade request. templ turns each
// { expression } into fmt.Sprint plus html.EscapeString (two allocations and
// a strings.Replacer pass each) and every row into a component of its own;
// that cost 9 µs a row, a third of a blade request. Here the columns are
// resolved once per table and each row is appended to one reused buffer and
// written once.
//
// Safety: every value that comes from a row goes through appendEscaped, which
// escapes exactly as templ does (html.EscapeString), in text and in
// attributes alike; only this file's constant markup is written unescaped.
// The markup must stay the same as the rest of the blade's: tests and the
// browser suite find cells by their data-testid.
//
// pauses are the pauses holding now: the ring cell of a paused ring's
// devices carries the "Customer paused" pill.
func deviceRows(rows []store.DeviceRow, cols []ColumnView, selectable bool, pauses []store.Pause) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rc := rowColumns(cols, pausePills(pauses))
		var scratch []byte // a computed cell's text, before escaping
		b := make([]byte, 0, 2048)
		for i := range rows {
			b = appendDeviceRow(b[:0], &rows[i], rc, selectable, &scratch)
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// cellKind is how a column's cell is marked up.
type cellKind int

const (
	cellPlain  cellKind = iota // <td data-testid="cell-KEY">text</td>
	cellLink                   // the device name, opening the flyout
	cellStatus                 // a status badge
	cellRing                   // the ring, with the pill of a paused ring
)

// rowColumn is a visible column resolved for rendering: its markup and the
// function that writes its text.
type rowColumn struct {
	kind cellKind
	open string // escaped opening markup of a plain cell
	text cellFunc
	// pills are the pause pills by ring (cellRing).
	pills map[store.Ring]string
}

// rowColumns resolves the visible columns once per table.
func rowColumns(cols []ColumnView, pills map[store.Ring]string) []rowColumn {
	out := make([]rowColumn, len(cols))
	for i, c := range cols {
		switch c.Key {
		case "display_name":
			out[i] = rowColumn{kind: cellLink}
		case "status":
			out[i] = rowColumn{kind: cellStatus}
		case "reasons":
			out[i] = rowColumn{open: `<td class="reason" data-testid="cell-reasons">`, text: cellText(c.Key)}
		case "ring":
			out[i] = rowColumn{kind: cellRing, open: `<td data-testid="cell-ring">`, text: cellText(c.Key), pills: pills}
		default:
			open := appendEscaped([]byte(`<td data-testid="cell-`), c.Key)
			out[i] = rowColumn{open: string(append(open, `">`...)), text: cellText(c.Key)}
		}
	}
	return out
}

// appendDeviceRow appends one row's <tr> to b. scratch is reused for the
// text of computed cells.
func appendDeviceRow(b []byte, r *store.DeviceRow, cols []rowColumn, selectable bool, scratch *[]byte) []byte {
	b = append(b, `<tr data-testid="device-row" data-device-id="`...)
	b = appendEscaped(b, r.DeviceID)
	b = append(b, `">`...)
	if selectable {
		b = append(b, `<td><input type="checkbox" data-row-select value="`...)
		b = appendEscaped(b, r.DeviceID)
		b = append(b, `" aria-label="Select `...)
		b = appendEscaped(b, r.DisplayName)
		b = append(b, `" data-testid="row-select"></td>`...)
	}
	for i := range cols {
		c := &cols[i]
		switch c.kind {
		case cellLink:
			b = append(b, `<td><a href="/devices/`...)
			b = appendEscaped(b, r.DeviceID)
			b = append(b, `" hx-get="/devices/`...)
			b = appendEscaped(b, r.DeviceID)
			b = append(b, `" hx-target="#flyout" hx-swap="innerHTML" data-testid="device-link">`...)
			b = appendEscaped(b, r.DisplayName)
			b = append(b, `</a></td>`...)
		case cellStatus:
			// class={ "status", string(r.Status) } in templ: the names joined,
			// a repeated one once.
			b = append(b, `<td><span class="status`...)
			if r.Status != "status" {
				b = append(b, ' ')
				b = appendEscaped(b, string(r.Status))
			}
			b = append(b, `" data-testid="cell-status">`...)
			b = appendEscaped(b, r.Status.Label())
			b = append(b, `</span></td>`...)
		case cellRing:
			b = append(b, c.open...)
			*scratch = c.text((*scratch)[:0], r)
			b = appendEscaped(b, *scratch)
			b = append(b, c.pills[r.Ring]...) // escaped already
			b = append(b, `</td>`...)
		default:
			b = append(b, c.open...)
			*scratch = c.text((*scratch)[:0], r)
			b = appendEscaped(b, *scratch)
			b = append(b, `</td>`...)
		}
	}
	return append(b, `</tr>`...)
}

// cellFunc appends the text of a row's cell in one column to dst, unescaped.
type cellFunc func(dst []byte, r *store.DeviceRow) []byte

// cellText returns the function that writes a column's cell text, as the
// blade shows it. Resolve it once per table, not per row.
func cellText(key string) cellFunc {
	switch key {
	case "status":
		return func(dst []byte, r *store.DeviceRow) []byte { return append(dst, r.Status.Label()...) }
	case "ring":
		return func(dst []byte, r *store.DeviceRow) []byte { return append(dst, r.Ring.Label()...) }
	case "ring_assigned_by":
		return func(dst []byte, r *store.DeviceRow) []byte {
			switch r.RingBy {
			case store.RingByAdmin:
				dst = append(dst, "Admin ("...)
				dst = append(dst, r.RingActor...)
				return append(dst, ')')
			case store.RingByService:
				return append(dst, "Service"...)
			}
			return dst
		}
	case "reasons":
		return func(dst []byte, r *store.DeviceRow) []byte {
			if len(r.Reasons) == 0 {
				return dst
			}
			dst = append(dst, r.Reasons[0].Name()...)
			if n := len(r.Reasons) - 1; n > 0 {
				dst = append(dst, " (+"...)
				dst = strconv.AppendInt(dst, int64(n), 10)
				dst = append(dst, " more)"...)
			}
			return dst
		}
	case "last_checkin":
		return func(dst []byte, r *store.DeviceRow) []byte { return appendDateTime(dst, r.LastCheckin) }
	case "registered_on":
		return func(dst []byte, r *store.DeviceRow) []byte { return appendDateTime(dst, r.RegisteredAt) }
	case "ring_assigned_at":
		return func(dst []byte, r *store.DeviceRow) []byte { return appendDateTime(dst, r.RingAt) }
	}
	c, ok := store.ColumnByKey(key)
	if !ok {
		return func(dst []byte, _ *store.DeviceRow) []byte { return dst }
	}
	value := c.Value
	return func(dst []byte, r *store.DeviceRow) []byte { return append(dst, value(r)...) }
}

// zoneMark is what a column's header adds to its name: the time zone of a
// time column, whose cells are written in UTC as every time the portal
// shows (dateTime), without repeating it in each row.
func zoneMark(key string) string {
	switch key {
	case "last_checkin", "registered_on", "ring_assigned_at":
		return " (UTC)"
	}
	return ""
}

// appendDateTime appends t as the UI shows times (UTC, to the minute), or a
// dash for a time never recorded.
func appendDateTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "—"...)
	}
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 1000 || y > 9999 {
		return t.AppendFormat(dst, "2006-01-02 15:04")
	}
	// The layout by hand: AppendFormat parses its layout on every call, a
	// tenth of a blade's rendering when every row has two times.
	h, mi, _ := t.Clock()
	dst = strconv.AppendInt(dst, int64(y), 10)
	dst = append(dst, '-')
	dst = append2(dst, int(mo))
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, ' ')
	dst = append2(dst, h)
	dst = append(dst, ':')
	return append2(dst, mi)
}

// append2 appends n (0–99) as two digits.
func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// appendEscaped appends s escaped for HTML text and quoted attribute values,
// byte for byte as html.EscapeString (and so templ) escapes it.
func appendEscaped[T ~string | ~[]byte](dst []byte, s T) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		if !htmlSpecial[s[i]] {
			continue
		}
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default: // '"'
			esc = "&#34;"
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

// htmlSpecial marks the bytes appendEscaped replaces.
var htmlSpecial = [256]bool{'&': true, '\'': true, '<': true, '>': true, '"': true}
