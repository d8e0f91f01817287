package notify

import (
	htmltemplate "html/template"
	"io"
	"strconv"
	"text/template"
	"time"

	"patchboard/store"
)

// content is one mail as words and figures; render writes it as plain text
// and as HTML from the same data, so the two parts never disagree.
type content struct {
	Subject    string
	Heading    string
	Paragraphs []string
	Tables     []table
}

type table struct {
	Title string
	Rows  [][2]string
}

var textMail = template.Must(template.New("text").Parse(`{{.Heading}}
{{range .Paragraphs}}
{{.}}
{{end}}{{range .Tables}}
{{.Title}}
{{range .Rows}}  {{index . 0}}: {{index . 1}}
{{else}}  none
{{end}}{{end}}
-- 
Patchboard. You receive this as an admin contact; change the contacts under Tenant administration > Admin contacts.
`))

var htmlMail = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; color: #1b1b1b">
<h1 style="font-size: 1.25em">{{.Heading}}</h1>
{{range .Paragraphs}}<p>{{.}}</p>
{{end}}{{range .Tables}}<h2 style="font-size: 1.05em">{{.Title}}</h2>
{{if .Rows}}<table cellpadding="4">{{range .Rows}}<tr><th align="left">{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{else}}<p>None.</p>
{{end}}{{end}}<p style="color: #5b5b5b; font-size: 0.85em">Patchboard. You receive this as an admin contact; change the contacts under Tenant administration › Admin contacts.</p>
</body></html>
`))

func (c content) render(text, html io.Writer) error {
	if err := textMail.Execute(text, c); err != nil {
		return err
	}
	return htmlMail.Execute(html, c)
}

func alertMail(resolved bool, a store.AlertChange) content {
	c := content{Subject: "[Patchboard] " + a.Severity + " alert: " + a.Title, Heading: a.Title,
		Paragraphs: []string{a.WhatHappened, "Recommended action: " + a.Action}}
	rows := [][2]string{{"Severity", a.Severity}, {"Who acts", a.WhoActs}, {"Raised", a.RaisedAt}}
	if resolved {
		c.Subject = "[Patchboard] Resolved: " + a.Title
		c.Heading = "Resolved: " + a.Title
		c.Paragraphs = []string{"The condition cleared and the alert resolved by itself.", a.WhatHappened}
		rows = append(rows, [2]string{"Resolved", a.ResolvedAt})
	}
	c.Tables = []table{{Title: "Alert", Rows: rows}}
	return c
}

var supportVerbs = map[string]string{"created": "was raised", "assigned": "was assigned", "mitigated": "was mitigated"}

func supportMail(s store.SupportChange) content {
	title := "Support request " + strconv.FormatInt(s.RequestID, 10) + ": " + s.Title
	return content{Subject: "[Patchboard] " + title + " " + supportVerbs[s.Change], Heading: title,
		Paragraphs: []string{"The support request " + supportVerbs[s.Change] + " by " + s.By + ". You are its primary contact."},
		Tables:     []table{{Title: "Request", Rows: [][2]string{{"State", s.State}, {"Change", s.Change}, {"By", s.By}}}}}
}

func digestMail(d store.Digest, now time.Time) content {
	c := content{Subject: "[Patchboard] Daily digest for " + d.Area.Label() + ", " + now.Format(time.DateOnly),
		Heading: "Daily digest: " + d.Area.Label(),
		Paragraphs: []string{"What changed since " + d.Since.Format("2006-01-02 15:04 UTC") + ". Open alerts: " +
			strconv.Itoa(d.OpenAlerts) + "."}}
	var tabs, rings, failures, offers [][2]string
	for _, t := range store.Tabs {
		tabs = append(tabs, [2]string{t.Label(), strconv.Itoa(d.Tabs[t])})
	}
	for _, r := range store.Rings {
		rings = append(rings, [2]string{r.Label(), strconv.Itoa(d.Rings.Get(r))})
	}
	for _, f := range d.NewFailures {
		failures = append(failures, [2]string{string(f.Check), strconv.Itoa(f.N) + " devices"})
	}
	for _, o := range d.Offers {
		offers = append(offers, [2]string{o.Name, "offered to the " + o.Ring.Label() + " ring on " + o.OfferedAt})
	}
	if d.Area == store.AreaUpdates {
		c.Tables = []table{{"Devices per ring", rings}, {"Releases reaching rings", offers}, {"Devices per tab", tabs}}
	} else {
		c.Tables = []table{{"Devices per tab", tabs}, {"New failures by check", failures}, {"Devices per ring", rings}}
	}
	return c
}
