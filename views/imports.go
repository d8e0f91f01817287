package views

import (
	"strconv"

	"patchboard/store"
)

// ImportKind is what an import adds: members to a group, or devices to the
// directory.
type ImportKind string

// Import kinds.
const (
	ImportMembers ImportKind = "members"
	ImportDevices ImportKind = "devices"
)

// ImportStage is where an import stands.
type ImportStage string

// Import stages.
const (
	StageNone     ImportStage = ""         // no file chosen yet
	StagePreview  ImportStage = "preview"  // checked, waiting for Import
	StageRejected ImportStage = "rejected" // rows rejected (or the upload refused); nothing written
	StageDone     ImportStage = "done"     // imported
)

// ImportState is the model of one import's area: the preview, the rejected
// rows or the outcome.
type ImportState struct {
	Kind  ImportKind
	Stage ImportStage
	// Token names the previewed file on the server; Import sends it back.
	Token string
	File  string // the uploaded file's name
	Group string // members: the target group
	Rows  int    // data rows read
	// Members and Devices are the counts of the preview or the import.
	Members store.MemberImportResult
	Devices store.ImportResult
	// Rejected are the rejected rows (at most the store's cap), and
	// MoreRejected counts those beyond it.
	Rejected     []store.FieldError
	MoreRejected int
	// Note is a message about the whole file (too large, expired preview…).
	Note string
}

// ImportsView is the model of the import page.
type ImportsView struct {
	// Groups are the assigned groups members can be imported into, with
	// whether the user may.
	Groups  []store.MemberImportGroup
	Group   string // the group chosen last
	Members ImportState
	Devices ImportState
	// MaxRows and MaxMB are the limits of one file, which the handlers
	// enforce.
	MaxRows int
	MaxMB   int
}

// Selected reports whether g is the group to preselect: the one chosen last,
// else the first the user may import into.
func (v ImportsView) Selected(g store.MemberImportGroup) bool {
	if v.Group != "" {
		return g.Name == v.Group
	}
	for _, o := range v.Groups {
		if o.Allowed {
			return o.Name == g.Name
		}
	}
	return false
}

// areaID is the id of an import's area, its htmx target.
func (s ImportState) areaID() string { return string(s.Kind) + "-import" }

// prefix is the test-id prefix of an import's controls.
func (s ImportState) prefix() string {
	if s.Kind == ImportMembers {
		return "member"
	}
	return "device"
}

// RejectedCount is how many problems the file has, the unlisted ones included.
func (s ImportState) RejectedCount() int { return len(s.Rejected) + s.MoreRejected }

// rowLabel names where a rejection is: its row, or the file as a whole.
func rowLabel(fe store.FieldError) string {
	if fe.Row > 0 {
		return strconv.Itoa(fe.Row)
	}
	return "file"
}

// Thousands formats n with comma thousands separators: 100,000.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := ""
	if n < 0 {
		neg, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return neg + s
}

// rowsText is "1 row" or "N rows" with separators.
func rowsText(n int) string {
	if n == 1 {
		return "1 row"
	}
	return Thousands(n) + " rows"
}

// countOf is "1 device" or "1,234 devices".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Thousands(n) + " " + many
}
