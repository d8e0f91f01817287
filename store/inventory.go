package store

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// InventoryField is one column of the inventory schema (SPEC §1): the CSV
// import header, the JSON API field and the export key.
type InventoryField struct {
	// Key is the snake_case name used by import, export and the API, e.g.
	// "serial_number".
	Key string
	// Label is the column name the UI shows, e.g. "Serial number".
	Label string
	// Required is true for the columns every import must have and every
	// device must fill: device_id and display_name.
	Required bool
	// Type says how the JSON API writes the field: as a string, a boolean
	// or a list (see FieldType).
	Type FieldType

	get func(*Device) string
	// set parses, normalises and validates one value. Its error text is the
	// reason only, without the field name, so callers can place it.
	set func(*Device, string) error
}

// FieldType is how a field's value is typed outside CSV: in CSV every value
// is text, in JSON a FieldBool is true, false or null (not reported) and a
// FieldList is an array of strings (the ;-separated items of its text).
type FieldType uint8

// Field types.
const (
	FieldText FieldType = iota
	FieldBool
	FieldList
)

// Value returns the canonical text form of the field, which is what export
// writes and what Set accepts back unchanged.
func (f InventoryField) Value(d *Device) string { return f.get(d) }

// Set parses, normalises and validates v and stores it in d. A rejected value
// leaves d unchanged and returns a FieldError naming the field, the value and
// the reason.
func (f InventoryField) Set(d *Device, v string) error {
	if err := f.set(d, v); err != nil {
		return FieldError{Field: f.Key, Value: v, Reason: err.Error()}
	}
	return nil
}

// Length limits of the free-text fields, in characters.
const (
	maxTextLen      = 256
	maxOSVersionLen = 64
	// Entra allows 1,024 characters in an extension attribute.
	maxExtensionAttributeLen = 1024
	// maxListLen bounds a ;-separated list field as a whole.
	maxListLen = 4096
)

// Canonical spellings of the enum fields. Input is matched
// case-insensitively and stored as spelled here.
var (
	osNames         = []string{OSWindows, "macOS", "iOS", "Android", "Linux"}
	architectures   = []string{ArchX64, ArchX86, ArchARM64}
	joinTypes       = []string{JoinEntraJoined, JoinHybridJoined, JoinEntraRegistered}
	ownerships      = []string{OwnershipCompany, OwnershipPersonal, OwnershipUnknown}
	managements     = []string{ManagementIntune, ManagementCoManaged, ManagementConfigMgr, ManagementNone}
	workloads       = []string{WorkloadConfigMgr, WorkloadPilotIntune, WorkloadIntune}
	deviceKinds     = []string{KindPhysical, KindVirtualMachine, KindCloudPC, KindAVDPersonal, KindAVDMultiSession, KindAVDPooled}
	wuPolicySources = []string{"intune", "gpo", "none"}
	officeSources   = []string{"intune", "gpo", "cdn", "none"}
)

// editions maps the Windows editions an admin may type to their canonical
// spelling. Other text is kept as given: the windows-os check, not the
// import, decides which editions qualify.
var editions = []struct{ in, canonical string }{
	{"Enterprise", "Enterprise"},
	{"Professional", "Professional"},
	{"Pro", "Professional"}, // how Settings and winver name it
	{"Pro for Workstations", "Pro for Workstations"},
	{"Pro Education", "Pro Education"},
	{"Education", "Education"},
	{"Enterprise LTSC", "Enterprise LTSC"},
	{"Enterprise multi-session", "Enterprise multi-session"},
	{"Enterprise for Virtual Desktops", "Enterprise multi-session"}, // Entra's name for it
	{"IoT Enterprise", "IoT Enterprise"},
	{"IoT Enterprise LTSC", "IoT Enterprise LTSC"},
	{"Home", "Home"},
	{"SE", "SE"},
}

// InventoryFields is the inventory schema in the order of SPEC §1, which is
// also the column order of exports.
var InventoryFields = inventoryFields()

func inventoryFields() []InventoryField {
	fields := []InventoryField{
		{Key: "device_id", Label: "Device ID", Required: true,
			get: func(d *Device) string { return d.DeviceID }, set: setDeviceID},
		textField("display_name", "Device name", true, maxTextLen, func(d *Device) *string { return &d.DisplayName }),
		textField("serial_number", "Serial number", false, maxTextLen, func(d *Device) *string { return &d.SerialNumber }),
		textField("manufacturer", "Manufacturer", false, maxTextLen, func(d *Device) *string { return &d.Manufacturer }),
		textField("model", "Model", false, maxTextLen, func(d *Device) *string { return &d.Model }),
		{Key: "os", Label: "OS",
			get: func(d *Device) string { return d.OS }, set: setOS},
		textField("os_version", "OS version", false, maxOSVersionLen, func(d *Device) *string { return &d.OSVersion }),
		{Key: "edition", Label: "Edition",
			get: func(d *Device) string { return d.Edition }, set: setEdition},
		enumField("architecture", "Architecture", architectures, "", func(d *Device) *string { return &d.Architecture }),
		enumField("join_type", "Join type", joinTypes, "", func(d *Device) *string { return &d.JoinType }),
		enumField("ownership", "Ownership", ownerships, OwnershipUnknown, func(d *Device) *string { return &d.Ownership }),
		enumField("management", "Management", managements, ManagementNone, func(d *Device) *string { return &d.Management }),
		enumField("workload_windows_update", "Windows Update workload", workloads, "", func(d *Device) *string { return &d.WorkloadWindowsUpdate }),
		enumField("workload_device_configuration", "Device configuration workload", workloads, "", func(d *Device) *string { return &d.WorkloadDeviceConfiguration }),
		enumField("workload_office_c2r", "Office Click-to-Run workload", workloads, "", func(d *Device) *string { return &d.WorkloadOfficeC2R }),
		{Key: "last_checkin", Label: "Last check-in",
			get: lastCheckinValue, set: setLastCheckin},
		enumField("device_kind", "Device kind", deviceKinds, KindPhysical, func(d *Device) *string { return &d.DeviceKind }),
		{Key: "account_enabled", Label: "Account enabled", Type: FieldBool,
			get: func(d *Device) string { return strconv.FormatBool(d.AccountEnabled) }, set: setAccountEnabled},
		enumField("wu_policy_source", "Windows Update policy source", wuPolicySources, "", func(d *Device) *string { return &d.WUPolicySource }),
		enumField("office_policy_source", "Office update policy source", officeSources, "", func(d *Device) *string { return &d.OfficePolicySource }),
		{Key: "unreachable_endpoints", Label: "Unreachable endpoints", Type: FieldList,
			get: func(d *Device) string { return strings.Join(d.UnreachableEndpoints, ";") }, set: setUnreachableEndpoints},
		signalField("internet_connected", "Internet connected", func(d *Device) *Signal { return &d.InternetConnected }),
		{Key: "object_id", Label: "Object ID",
			get: func(d *Device) string { return d.ObjectID }, set: guidSetter(func(d *Device) *string { return &d.ObjectID })},
		listField("physical_ids", "Physical IDs", maxTextLen, nil, func(d *Device) *[]string { return &d.PhysicalIDs }),
		textField("enrollment_profile_name", "Enrollment profile name", false, maxTextLen, func(d *Device) *string { return &d.EnrollmentProfileName }),
		textField("device_category", "Device category", false, maxTextLen, func(d *Device) *string { return &d.DeviceCategory }),
		textField("profile_type", "Profile type", false, maxTextLen, func(d *Device) *string { return &d.ProfileType }),
		textField("management_type", "Management type", false, maxTextLen, func(d *Device) *string { return &d.ManagementType }),
		{Key: "management_app_id", Label: "Management app ID",
			get: func(d *Device) string { return d.ManagementAppID }, set: guidSetter(func(d *Device) *string { return &d.ManagementAppID })},
		listField("system_labels", "System labels", maxTextLen, nil, func(d *Device) *[]string { return &d.SystemLabels }),
		signalField("is_rooted", "Rooted", func(d *Device) *Signal { return &d.IsRooted }),
	}

	// The extension attributes follow, then the update alerts: SPEC §1 order.
	for n := 1; n <= NumExtensionAttributes; n++ {
		fields = append(fields, InventoryField{
			Key: fmt.Sprintf("extension_attribute_%d", n), Label: fmt.Sprintf("Extension attribute %d", n),
			get: func(d *Device) string { return d.ExtensionAttribute(n) },
			set: func(d *Device, v string) error {
				v = strings.TrimSpace(v)
				if err := checkText(v, maxExtensionAttributeLen); err != nil {
					return err
				}
				d.SetExtensionAttribute(n, v)
				return nil
			},
		})
	}
	return append(fields,
		listField("update_alerts", "Update alerts", 64, checkAlertCode, func(d *Device) *[]string { return &d.UpdateAlerts }))
}

// InventoryFieldByKey returns the field with the given key, matched
// case-insensitively after trimming spaces.
func InventoryFieldByKey(key string) (InventoryField, bool) {
	key = strings.TrimSpace(key)
	for _, f := range InventoryFields {
		if strings.EqualFold(f.Key, key) {
			return f, true
		}
	}
	return InventoryField{}, false
}

// NewDevice returns a Device holding the values that an empty or missing
// optional column stands for: ownership unknown, management none, a physical
// device, an enabled account, and every readiness signal not reported.
func NewDevice() *Device {
	return &Device{
		Ownership:      OwnershipUnknown,
		Management:     ManagementNone,
		DeviceKind:     KindPhysical,
		AccountEnabled: true,
	}
}

// ValidateDevice checks what single fields cannot: that the required fields
// are filled and that a Windows os_version reads 10.0.BUILD[.REVISION]. Run it
// after every field is set. The errors carry no Row.
func ValidateDevice(d *Device) []FieldError {
	var errs []FieldError
	if d.DeviceID == "" {
		errs = append(errs, FieldError{Field: "device_id", Reason: reasonRequired})
	}
	if d.DisplayName == "" {
		errs = append(errs, FieldError{Field: "display_name", Reason: reasonRequired})
	}
	if fe, ok := crossFieldError(d); ok {
		errs = append(errs, fe)
	}
	return errs
}

// crossFieldError is the rule between fields: today, only the Windows version
// format, which the build-number checks rely on.
func crossFieldError(d *Device) (FieldError, bool) {
	if d.OSVersion == "" || !d.IsWindows() || isWindowsVersion(d.OSVersion) {
		return FieldError{}, false
	}
	return FieldError{
		Field: "os_version",
		Value: d.OSVersion,
		Reason: fmt.Sprintf("%s is not a Windows version; expected 10.0.BUILD or 10.0.BUILD.REVISION, such as 10.0.22631.4317",
			quote(d.OSVersion)),
	}, true
}

// isWindowsVersion reports whether v is 10.0.BUILD or 10.0.BUILD.REVISION.
// Each number is at most 9 digits so that it always fits an int.
func isWindowsVersion(v string) bool {
	rest, ok := strings.CutPrefix(v, "10.0.")
	if !ok {
		return false
	}
	build, rev, hasRev := strings.Cut(rest, ".")
	return isShortNumber(build) && (!hasRev || isShortNumber(rev))
}

func isShortNumber(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

const reasonRequired = "must not be empty"

// reason is a rejection reason. It is a plain string type so that set
// functions return it without building an error chain.
type reason string

func (r reason) Error() string { return string(r) }

func reasonf(format string, args ...any) error { return reason(fmt.Sprintf(format, args...)) }

// quote renders a user's value inside a reason: quoted, escaped and cut short,
// so that one enormous cell cannot make an enormous message.
func quote(v string) string {
	const limit = 64
	if utf8.RuneCountInString(v) > limit {
		n := 0
		for i := range v {
			if n == limit {
				return strconv.Quote(v[:i]) + "…"
			}
			n++
		}
	}
	return strconv.Quote(v)
}

// checkText rejects what a free-text field must not hold. Control characters
// are refused because they break exports, the UI and the CSV round trip;
// invalid UTF-8 mostly means a file saved in a legacy code page.
func checkText(v string, limit int) error {
	if len(v) > limit { // bytes ≥ characters, so only long values are counted
		if n := utf8.RuneCountInString(v); n > limit {
			return reasonf("is %d characters long; at most %d are allowed", n, limit)
		}
	}
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return reason("contains a control character such as a tab or a line break")
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			return reason("is not valid UTF-8 text; save the file as CSV UTF-8")
		}
		if r >= 0x80 && r <= 0x9f {
			return reason("contains a control character")
		}
		i += size
	}
	return nil
}

func textField(key, label string, required bool, limit int, ptr func(*Device) *string) InventoryField {
	return InventoryField{
		Key:      key,
		Label:    label,
		Required: required,
		get:      func(d *Device) string { return *ptr(d) },
		set: func(d *Device, v string) error {
			v = strings.TrimSpace(v)
			if v == "" && required {
				return reason(reasonRequired)
			}
			if err := checkText(v, limit); err != nil {
				return err
			}
			*ptr(d) = v
			return nil
		},
	}
}

// enumField is a field holding one of values, or def when the cell is empty.
// When def is "" the empty value means "not reported" and is allowed.
func enumField(key, label string, values []string, def string, ptr func(*Device) *string) InventoryField {
	allowed := strings.Join(values, ", ")
	if def == "" {
		allowed += " (or empty)"
	} else {
		allowed += " (empty means " + def + ")"
	}
	return InventoryField{
		Key:   key,
		Label: label,
		get:   func(d *Device) string { return *ptr(d) },
		set: func(d *Device, v string) error {
			t := strings.TrimSpace(v)
			if t == "" {
				*ptr(d) = def
				return nil
			}
			c, ok := canonical(t, values)
			if !ok {
				return reasonf("%s is not one of %s", quote(t), allowed)
			}
			*ptr(d) = c
			return nil
		},
	}
}

// canonical returns the spelling in values that v matches case-insensitively.
func canonical(v string, values []string) (string, bool) {
	for _, c := range values {
		if strings.EqualFold(v, c) {
			return c, true
		}
	}
	return "", false
}

func setDeviceID(d *Device, v string) error {
	t := strings.TrimSpace(v)
	if t == "" {
		return reason(reasonRequired)
	}
	id, ok := parseGUID(t)
	if !ok {
		return reasonf("%s is not a device ID; expected a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e", quote(t))
	}
	d.DeviceID = id
	return nil
}

// parseGUID accepts 8-4-4-4-12 hex digits, optionally in braces, and returns
// them lower-case without braces.
func parseGUID(s string) (string, bool) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return "", false
	}
	upper := false
	for i := 0; i < 36; i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			upper = true
		default:
			return "", false
		}
	}
	if upper {
		s = strings.ToLower(s)
	}
	return s, true
}

// guidKey packs a canonical GUID into 16 bytes, so that the duplicate check
// of a million-row import keeps small map keys.
func guidKey(id string) [16]byte {
	var k [16]byte
	n := 0
	for i := 0; i < len(id) && n < 32; i++ {
		c := id[i]
		var x byte
		switch {
		case '0' <= c && c <= '9':
			x = c - '0'
		case 'a' <= c && c <= 'f':
			x = c - 'a' + 10
		default:
			continue
		}
		k[n/2] |= x << (4 * (1 - n%2))
		n++
	}
	return k
}

func setOS(d *Device, v string) error {
	t := strings.TrimSpace(v)
	if c, ok := canonical(t, osNames); ok {
		d.OS = c
		return nil
	}
	if err := checkText(t, maxTextLen); err != nil {
		return err
	}
	d.OS = t
	return nil
}

func setEdition(d *Device, v string) error {
	t := strings.TrimSpace(v)
	for _, e := range editions {
		if strings.EqualFold(t, e.in) {
			d.Edition = e.canonical
			return nil
		}
	}
	if err := checkText(t, maxTextLen); err != nil {
		return err
	}
	d.Edition = t
	return nil
}

// Bounds of last_checkin. Earlier or later times are typing mistakes or
// "never" sentinels of other tools, and would not survive the RFC 3339 text
// round trip once converted to UTC.
var (
	minCheckin = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxCheckin = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

func setLastCheckin(d *Device, v string) error {
	t := strings.TrimSpace(v)
	if t == "" {
		d.LastCheckin = time.Time{}
		return nil
	}
	tm, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		return reasonf("%s is not an RFC 3339 time; expected a time such as 2025-01-31T09:30:00Z (or empty for never)", quote(t))
	}
	// Stored in whole seconds, as export writes it, so that what is stored
	// is exactly what a re-import of the export would store.
	tm = tm.UTC().Truncate(time.Second)
	if tm.Before(minCheckin) || tm.After(maxCheckin) {
		return reasonf("%s is outside 1970 to 9999; expected a time such as 2025-01-31T09:30:00Z (or empty for never)", quote(t))
	}
	d.LastCheckin = tm
	return nil
}

func lastCheckinValue(d *Device) string {
	if d.LastCheckin.IsZero() {
		return ""
	}
	return d.LastCheckin.UTC().Format(time.RFC3339)
}

func setAccountEnabled(d *Device, v string) error {
	t := strings.TrimSpace(v)
	switch {
	case t == "" || strings.EqualFold(t, "true"):
		d.AccountEnabled = true
	case strings.EqualFold(t, "false"):
		d.AccountEnabled = false
	default:
		return reasonf("%s is not one of true, false (empty means true)", quote(t))
	}
	return nil
}

// signalField is a true/false field that may be empty: not reported.
func signalField(key, label string, ptr func(*Device) *Signal) InventoryField {
	return InventoryField{
		Key: key, Label: label, Type: FieldBool,
		get: func(d *Device) string { return ptr(d).String() },
		set: func(d *Device, v string) error {
			t := strings.TrimSpace(v)
			switch {
			case t == "":
				*ptr(d) = SignalUnknown
			case strings.EqualFold(t, "true"):
				*ptr(d) = SignalTrue
			case strings.EqualFold(t, "false"):
				*ptr(d) = SignalFalse
			default:
				return reasonf("%s is not one of true, false (or empty when not reported)", quote(t))
			}
			return nil
		},
	}
}

// guidSetter sets an optional GUID field: empty, or a GUID stored lower-case.
func guidSetter(ptr func(*Device) *string) func(*Device, string) error {
	return func(d *Device, v string) error {
		t := strings.TrimSpace(v)
		if t == "" {
			*ptr(d) = ""
			return nil
		}
		id, ok := parseGUID(t)
		if !ok {
			return reasonf("%s is not a GUID; expected a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e (or empty)", quote(t))
		}
		*ptr(d) = id
		return nil
	}
}

// listField is a ;-separated list of free-text items, each at most itemLen
// characters and accepted by check when it is not nil. Items are trimmed;
// empty items (a trailing ";") and repeated items are dropped; the order is
// kept, as Entra keeps the order of a collection.
func listField(key, label string, itemLen int, check func(string) error, ptr func(*Device) *[]string) InventoryField {
	return InventoryField{
		Key: key, Label: label, Type: FieldList,
		get: func(d *Device) string { return strings.Join(*ptr(d), ";") },
		set: func(d *Device, v string) error {
			if len(v) > maxListLen {
				if n := utf8.RuneCountInString(v); n > maxListLen {
					return reasonf("is %d characters long; at most %d are allowed", n, maxListLen)
				}
			}
			var items []string
			for rest := v; rest != ""; {
				var item string
				item, rest, _ = strings.Cut(rest, ";")
				if item = strings.TrimSpace(item); item == "" || slices.Contains(items, item) {
					continue
				}
				if err := checkText(item, itemLen); err != nil {
					return reasonf("item %s %v", quote(item), err)
				}
				if check != nil {
					if err := check(item); err != nil {
						return reasonf("item %s %v", quote(item), err)
					}
				}
				items = append(items, item)
			}
			*ptr(d) = items
			return nil
		},
	}
}

// setUnreachableEndpoints parses a ;-separated list. Empty items (a trailing
// ";") are ignored; the result is deduplicated and in knownEndpoints order.
func setUnreachableEndpoints(d *Device, v string) error {
	var seen uint8 // bit i: knownEndpoints[i]
	var unknown []string
	for rest := v; rest != ""; {
		var item string
		item, rest, _ = strings.Cut(rest, ";")
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		found := false
		for i, e := range knownEndpoints {
			if strings.EqualFold(item, e) {
				seen |= 1 << i
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, quote(item))
		}
	}
	if len(unknown) > 0 {
		verb := "is not one of"
		if len(unknown) > 1 {
			verb = "are not among"
		}
		return reasonf("%s %s %s (separate several with ;)", strings.Join(unknown, ", "), verb, strings.Join(knownEndpoints, ", "))
	}
	var eps []string
	if seen != 0 {
		eps = make([]string, 0, 5)
		for i, e := range knownEndpoints {
			if seen&(1<<i) != 0 {
				eps = append(eps, e)
			}
		}
	}
	d.UnreachableEndpoints = eps
	return nil
}

// ReadInventoryCSV streams an inventory CSV file. It checks the header (field
// keys in any order, matched case-insensitively; device_id and display_name
// required; no unknown or repeated columns; a UTF-8 byte order mark is
// allowed), then parses each data row into a fresh *Device — missing or empty
// optional columns take NewDevice's defaults — and calls each for every valid
// row, in file order.
//
// Rejected rows are not passed to each; reading goes on so that one
// *ValidationError reports every bad row. Row N is the record that starts N
// lines below the header, so with no blank lines and no line breaks inside
// cells the first data line is row 1. Rows whose cells are all empty are
// skipped. A device_id that appears again is rejected on the later row.
//
// rows counts the data rows read, valid or not. The error is the
// *ValidationError (errors.Is(err, ErrInvalid)) when the header or any row was
// rejected, each's own error as soon as it returns one, or a read error. A
// file with a header and no rows is valid.
func ReadInventoryCSV(r io.Reader, each func(d *Device) error) (rows int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(3); bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	} else if bytes.HasPrefix(head, []byte("\xff\xfe")) || bytes.HasPrefix(head, []byte("\xfe\xff")) {
		return 0, headerError("the file is UTF-16 text; save it as CSV UTF-8")
	}

	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked here, to give a clear reason and go on
	cr.ReuseRecord = true

	var (
		header     []string
		headerLine int
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return 0, headerError("the file is empty; expected a header row of inventory field names")
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return 0, headerError(fmt.Sprintf("the header row is not valid CSV: %v", pe.Err))
			}
			return 0, fmt.Errorf("read inventory csv: %w", err)
		}
		if blankRecord(rec) {
			continue
		}
		header = append([]string(nil), rec...) // rec is reused by the next Read
		headerLine, _ = cr.FieldPos(0)
		break
	}

	cols, verr := parseInventoryHeader(header)
	if verr != nil {
		return 0, verr
	}
	idCol, osVersionCol := -1, -1
	for i, f := range cols {
		switch f.Key {
		case "device_id":
			idCol = i
		case "os_version":
			osVersionCol = i
		}
	}

	verr = &ValidationError{}
	seen := make(map[[16]byte]int) // device ID → row that first held it
	defaults := NewDevice()
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return rows, fmt.Errorf("read inventory csv: %w", err)
			}
			rows++
			verr.add(FieldError{Row: pe.StartLine - headerLine, Reason: csvSyntaxReason(pe)})
			continue
		}
		if blankRecord(rec) {
			continue
		}
		rows++
		line, _ := cr.FieldPos(0)
		row := line - headerLine
		if len(rec) != len(cols) {
			verr.add(FieldError{Row: row, Reason: fmt.Sprintf(
				"the row has %d cells but the header has %d columns; check for a missing or extra comma, or an unquoted comma inside a value",
				len(rec), len(cols))})
			continue
		}

		d := new(Device)
		*d = *defaults
		bad := false
		badOSVersion := false
		for i, f := range cols {
			rec[i] = CSVUnguard(rec[i]) // an export's guard is not data
			if err := f.set(d, rec[i]); err != nil {
				bad = true
				badOSVersion = badOSVersion || f.Key == "os_version"
				verr.add(FieldError{Row: row, Field: f.Key, Value: rec[i], Reason: err.Error()})
			}
		}
		if d.DeviceID != "" {
			k := guidKey(d.DeviceID)
			if first, dup := seen[k]; dup {
				bad = true
				verr.add(FieldError{Row: row, Field: "device_id", Value: rec[idCol], Reason: fmt.Sprintf(
					"%s is already on row %d; each device may appear only once", quote(d.DeviceID), first)})
			} else {
				seen[k] = row
			}
		}
		if !badOSVersion {
			if fe, ok := crossFieldError(d); ok {
				bad = true
				fe.Row, fe.Value = row, rec[osVersionCol] // the cell as written
				verr.add(fe)
			}
		}
		if bad {
			continue
		}
		if err := each(d); err != nil {
			return rows, err
		}
	}
	if !verr.empty() {
		return rows, verr
	}
	return rows, nil
}

func headerError(reason string) *ValidationError {
	return &ValidationError{Errors: []FieldError{{Reason: reason}}}
}

func csvSyntaxReason(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf("the row is not valid CSV: a \" at line %d, column %d is inside a value that does not start with \"; double it (\"\") or quote the whole value", pe.Line, pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf("the row is not valid CSV: a quoted value is not closed properly (line %d, column %d)", pe.Line, pe.Column)
	}
	return fmt.Sprintf("the row is not valid CSV: %v", pe.Err)
}

// blankRecord reports whether every cell is empty or spaces, as in a blank
// line or the ",,,," rows spreadsheets leave at the end.
func blankRecord(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// parseInventoryHeader maps each header cell to its field, or reports every
// header problem at once.
func parseInventoryHeader(header []string) ([]InventoryField, *ValidationError) {
	verr := &ValidationError{}
	cols := make([]InventoryField, len(header))
	firstCol := make(map[string]int, len(header))
	for i, name := range header {
		name = strings.TrimSpace(name)
		if name == "" {
			verr.add(FieldError{Reason: fmt.Sprintf("column %d of the header has no name; name it with an inventory field or remove it", i+1)})
			continue
		}
		f, ok := InventoryFieldByKey(name)
		if !ok {
			verr.add(FieldError{Value: name, Reason: unknownColumnReason(name)})
			continue
		}
		if first, dup := firstCol[f.Key]; dup {
			verr.add(FieldError{Field: f.Key, Value: name, Reason: fmt.Sprintf(
				"the header has the column %s twice (columns %d and %d)", f.Key, first+1, i+1)})
			continue
		}
		firstCol[f.Key] = i
		cols[i] = f
	}
	for _, f := range InventoryFields {
		if _, ok := firstCol[f.Key]; f.Required && !ok {
			verr.add(FieldError{Field: f.Key, Reason: fmt.Sprintf(
				"the header has no %s column; device_id and display_name are required", f.Key)})
		}
	}
	if !verr.empty() {
		return nil, verr
	}
	return cols, nil
}

// unknownColumnReason names the unknown column and, when it is a UI label or
// a differently spelled key, the field it probably means.
func unknownColumnReason(name string) string {
	msg := fmt.Sprintf("the header has an unknown column %s", quote(name))
	if strings.ContainsAny(name, ";\t") {
		return msg + "; inventory files are comma-separated, not semicolon- or tab-separated"
	}
	sq := squash(name)
	for _, f := range InventoryFields {
		if sq == squash(f.Key) || sq == squash(f.Label) {
			return msg + fmt.Sprintf(" (did you mean %s?)", f.Key)
		}
	}
	return msg
}

// squash lower-cases s and keeps only letters and digits, so that
// "Serial number", "serialNumber" and "serial-number" compare equal.
func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
