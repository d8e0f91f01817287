package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrMalformedJSON means a request body is not the JSON it must be: not
// JSON at all, cut short, or not the expected shape at the top level. The
// wrapping error says what was expected.
var ErrMalformedJSON = errors.New("malformed JSON")

func malformedf(format string, args ...any) error {
	return &kindError{ErrMalformedJSON, fmt.Sprintf(format, args...)}
}

// inventoryKeys is the set of inventory field keys, for spotting unknown
// fields.
var inventoryKeys = func() map[string]int {
	m := make(map[string]int, len(InventoryFields))
	for i, f := range InventoryFields {
		m[f.Key] = i
	}
	return m
}()

// DecodeInventoryJSON reads a JSON array of inventory records: objects whose
// keys are the inventory field keys of SPEC §1, exactly as spelled there.
// Each value is parsed by the field's Set, so a record is validated exactly
// as a CSV row is. Values are strings, or null for empty; the true/false
// fields (FieldBool: account_enabled, internet_connected, is_rooted) may also
// be booleans, and the list fields (FieldList: unreachable_endpoints,
// physical_ids, system_labels, update_alerts) arrays of strings. A missing optional field takes NewDevice's default (the
// record is the device's whole inventory, as a CSV row is); device_id and
// display_name are required. A key given twice counts once, the last value.
//
// The whole batch is checked before anything is returned. Rejected records
// give one *ValidationError (errors.Is(err, ErrInvalid)) whose FieldErrors
// name the item as a JSON pointer ("/3") and the field ("architecture"), in
// the order of the body: unknown fields, values of the wrong type, values
// Set rejects, missing required fields, bad Windows versions and device IDs
// given twice. A body that is not a JSON array is an ErrMalformedJSON; a
// read error (such as *http.MaxBytesError) is returned wrapped.
//
// The body is read whole (callers bound it) and checked with json.Valid;
// the records are then read by a small scanner over the valid text, which
// costs a fraction of decoding each record into a map: the API upserts
// batches at tens of thousands of records a second.
func DecodeInventoryJSON(r io.Reader) ([]*Device, error) {
	body, err := readJSONBody(r)
	if err != nil {
		return nil, err
	}
	var devs []*Device
	err = readInventoryJSON(body, func(d *Device) error {
		devs = append(devs, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return devs, nil
}

// ImportDevicesJSON upserts the inventory records of a JSON array, read as
// DecodeInventoryJSON reads them, in one transaction: all-or-nothing, with
// the same counts and audit entry as a CSV import (none for an empty
// array). The records are written while the rest are still being parsed,
// on two cores, as ImportDevices does with a CSV file; a rejected record
// rolls everything back.
func (s *Store) ImportDevicesJSON(ctx context.Context, r io.Reader, source, actor string) (ImportResult, error) {
	body, err := readJSONBody(r) // before the write lock is taken
	if err != nil {
		return ImportResult{}, fmt.Errorf("import devices: %w", err)
	}
	var res ImportResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		// Small chunks: a batch of a thousand records should start being
		// written soon after its parsing starts.
		var err error
		res, err = upsertAll(ctx, tx, &deviceOrigin{kind: OriginAPI, source: source, actor: actor}, func(write func(*Device) error) error {
			return pipeDevices(ctx, 64, func(each func(*Device) error) error { return readInventoryJSON(body, each) }, write)
		})
		if err != nil || res.Rows == 0 {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{
			Actor: actor, Action: ActionImportDevice, Target: source, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("%d records: %d new, %d updated, %d unchanged", res.Rows, res.Inserted, res.Updated, res.Unchanged),
		}, nil)
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import devices: %w", err)
	}
	return res, nil
}

// readJSONBody reads a whole body and checks that it is JSON.
func readJSONBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if !json.Valid(body) {
		var v any
		return nil, jsonReadError(json.Unmarshal(body, &v))
	}
	return body, nil
}

// readInventoryJSON calls each for every valid record of body, which
// json.Valid accepted, in order; it returns the *ValidationError of every
// rejected record at the end, or each's error at once.
func readInventoryJSON(body []byte, each func(*Device) error) error {
	sc := jsonScanner{b: body}
	verr := &ValidationError{}
	seen := make(map[[16]byte]int)
	defaults := NewDevice()
	err := eachJSONObject(&sc, `the body must be a JSON array of device records, such as [{"device_id": "…", "display_name": "…"}]`,
		"must be an object of inventory fields", verr, func(item string, i int) error {
			d := new(Device)
			*d = *defaults
			if !decodeInventoryRecord(&sc, d, item, verr) || !firstOfDevice(seen, d.DeviceID, item, i, verr) {
				return nil
			}
			return each(d)
		})
	if err != nil {
		return err
	}
	if !verr.empty() {
		return verr
	}
	return nil
}

// eachJSONObject walks the array at sc (text json.Valid accepted) and calls
// each with the pointer ("/3") and index of every element that is an
// object, sc at its "{"; each must read the object whole. Other elements
// are reported to verr with the reason notObject; a body that is not an
// array is an ErrMalformedJSON saying notArray. It stops at each's error.
func eachJSONObject(sc *jsonScanner, notArray, notObject string, verr *ValidationError, each func(item string, i int) error) error {
	sc.ws()
	if sc.peek() != '[' {
		return malformedf("%s", notArray)
	}
	sc.i++
	for i := 0; ; i++ {
		sc.ws()
		if sc.peek() == ']' {
			return nil
		}
		if i > 0 {
			sc.i++ // the comma
			sc.ws()
		}
		item := "/" + strconv.Itoa(i)
		if sc.peek() != '{' {
			sc.skipValue()
			verr.add(FieldError{Item: item, Reason: notObject})
			continue
		}
		if err := each(item, i); err != nil {
			return err
		}
	}
}

// eachJSONField walks the object at sc and calls each with every key (with
// its quotes, as written) and value text.
func eachJSONField(sc *jsonScanner, each func(key, raw []byte)) {
	sc.i++ // {
	for first := true; ; first = false {
		sc.ws()
		if sc.peek() == '}' {
			sc.i++
			return
		}
		if !first {
			sc.i++ // the comma
			sc.ws()
		}
		key := sc.str()
		sc.ws()
		sc.i++ // :
		sc.ws()
		each(key, sc.skipValue())
	}
}

// firstOfDevice reports whether the batch names the device for the first
// time at index i, and rejects the item when it does not.
func firstOfDevice(seen map[[16]byte]int, id, item string, i int, verr *ValidationError) bool {
	k := guidKey(id)
	if first, dup := seen[k]; dup {
		verr.add(FieldError{Item: item, Field: "device_id", Value: id, Reason: fmt.Sprintf(
			"%s is already at /%d; each device may appear only once", quote(id), first)})
		return false
	}
	seen[k] = i
	return true
}

// decodeInventoryRecord reads the object at sc into d, reporting every
// problem to verr; it reports whether the record was valid.
func decodeInventoryRecord(sc *jsonScanner, d *Device, item string, verr *ValidationError) bool {
	ok := true
	badOSVersion := false
	var present uint64 // bit i: InventoryFields[i]
	eachJSONField(sc, func(key, raw []byte) {
		fi, known := inventoryKeys[string(key[1:len(key)-1])]
		if !known && bytes.IndexByte(key, '\\') >= 0 {
			fi, known = inventoryKeys[jsonUnquote(key)] // an escaped key
		}
		if !known {
			name := jsonUnquote(key)
			ok = false
			verr.add(FieldError{Item: item, Field: name, Reason: unknownFieldReason(name)})
			return
		}
		f := InventoryFields[fi]
		present |= 1 << fi
		v, err := jsonFieldText(f.Type, raw)
		if err == nil {
			err = f.set(d, v)
		} else {
			v = string(raw)
		}
		if err != nil {
			ok = false
			badOSVersion = badOSVersion || f.Key == "os_version"
			verr.add(FieldError{Item: item, Field: f.Key, Value: v, Reason: err.Error()})
		}
	})
	for i, f := range InventoryFields {
		if f.Required && present&(1<<i) == 0 {
			ok = false
			verr.add(FieldError{Item: item, Field: f.Key, Reason: "is required"})
		}
	}
	if ok && !badOSVersion {
		if fe, bad := crossFieldError(d); bad {
			ok = false
			fe.Item = item
			verr.add(fe)
		}
	}
	return ok
}

// jsonScanner walks JSON text that json.Valid has accepted, so it checks
// nothing: it only finds where values start and end.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads a string and returns it with its quotes.
func (s *jsonScanner) str() []byte {
	start := s.i
	s.i++
	for s.b[s.i] != '"' {
		if s.b[s.i] == '\\' {
			s.i++
		}
		s.i++
	}
	s.i++
	return s.b[start:s.i]
}

// skipValue reads any value and returns its text.
func (s *jsonScanner) skipValue() []byte {
	start := s.i
	switch s.b[s.i] {
	case '"':
		s.str()
	case '{', '[':
		for depth := 0; ; {
			switch s.b[s.i] {
			case '"':
				s.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				return s.b[start:s.i]
			}
		}
	default: // a number, true, false or null
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.b[start:s.i]
			}
			s.i++
		}
	}
	return s.b[start:s.i]
}

// jsonUnquote returns the text of a valid JSON string.
func jsonUnquote(q []byte) string {
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1])
	}
	var v string
	_ = json.Unmarshal(q, &v) // valid JSON: cannot fail
	return v
}

// unknownFieldReason names the field a misspelt key probably means.
func unknownFieldReason(key string) string {
	msg := "is not an inventory field"
	sq := squash(key)
	for _, f := range InventoryFields {
		if sq == squash(f.Key) || sq == squash(f.Label) {
			return msg + fmt.Sprintf(" (did you mean %s?)", f.Key)
		}
	}
	return msg + "; the fields are the snake_case keys of the inventory schema, such as serial_number"
}

// jsonFieldText turns one JSON value into the text the field's Set parses.
func jsonFieldText(typ FieldType, raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", reason("must be a string")
	}
	switch raw[0] {
	case '"':
		// Most values have no escapes: take the text between the quotes
		// rather than run the decoder again.
		if s := raw[1 : len(raw)-1]; bytes.IndexByte(s, '\\') < 0 {
			return string(s), nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", reason("must be a string")
		}
		return s, nil
	case 'n':
		return "", nil
	case 't', 'f':
		if typ == FieldBool {
			return string(raw), nil
		}
	case '[':
		if typ == FieldList {
			if string(raw) == "[]" {
				return "", nil
			}
			var list []string
			if err := json.Unmarshal(raw, &list); err != nil {
				return "", reason("must be an array of strings, such as [\"teams\", \"edge\"], or a ;-separated string")
			}
			for _, item := range list {
				if strings.Contains(item, ";") {
					return "", reasonf("item %s contains a ;, which separates the items of this field", quote(item))
				}
			}
			return strings.Join(list, ";"), nil
		}
	}
	switch typ {
	case FieldBool:
		return "", reason("must be true, false or a string")
	case FieldList:
		return "", reason("must be an array of strings or a ;-separated string")
	}
	return "", reason("must be a string")
}

// jsonReadError maps a decoder error: syntax errors and a body cut short
// are ErrMalformedJSON, anything else (a read error, a body over the limit)
// is passed on.
func jsonReadError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return malformedf("the body is not valid JSON: %v (at byte %d)", se.Error(), se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return malformedf("the body is not valid JSON: it ends too early")
	}
	return fmt.Errorf("read body: %w", err)
}
