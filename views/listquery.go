package views

import (
	"net/url"
	"strconv"

	"patchboard/store"
)

// listParams is the part of a device list's URL that the blade and the
// update report share: ring, search, sort, page size and cursor. One
// encoding, so that a parameter means the same on both.
type listParams struct {
	Ring   store.Ring
	Search string
	Sort   string
	Desc   bool
	Size   int
	After  string
}

// defaultSize is the page size a list has when its URL names none.
const defaultSize = 50

// encode sets the parameters that differ from the defaults.
func (p listParams) encode(v url.Values) {
	if p.Ring != "" {
		v.Set("ring", string(p.Ring))
	}
	if p.Search != "" {
		v.Set("q", p.Search)
	}
	if p.Sort != "" && p.Sort != "display_name" {
		v.Set("sort", p.Sort)
	}
	if p.Desc {
		v.Set("dir", "desc")
	}
	if p.Size != 0 && p.Size != defaultSize {
		v.Set("size", strconv.Itoa(p.Size))
	}
	if p.After != "" {
		v.Set("after", p.After)
	}
}
