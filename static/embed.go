// Package static holds the portal's embedded assets: the pinned htmx build,
// the stylesheet and a small script. Everything is served from /static, so
// the Content-Security-Policy can forbid inline script and style.
package static

import "embed"

// FS holds the assets.
//
//go:embed *.js *.css *.txt *.svg
var FS embed.FS

// HTMX is the file name of the vendored htmx build (version 2.0.11).
const HTMX = "htmx-2.0.11.min.js"
