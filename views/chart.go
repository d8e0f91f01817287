package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LineChart is a daily line chart, ready to draw as server-rendered SVG
// (lineChart in chart.templ): one line per series over a window of days,
// broken where a day has no value, a dot with its figure for each value,
// round-numbered axes, and the same figures as a sentence per series and as
// a table, for screen readers and copying. The overview's 30-day trend and
// the update reports' 90-day trend are both one.
type LineChart struct {
	Days   []time.Time // the window, oldest first
	Series []ChartSeries
	YTicks []ChartTick
	XTicks []ChartTick
	// Rows are the days with values, oldest first, for the table.
	Rows []ChartRow
}

// ChartSeries is one line.
type ChartSeries struct {
	Key      string // names the series in data-testid="trend-series-KEY"
	Label    string
	CSSClass string   // sets the series' colour (app.css)
	Lines    []string // points attributes
	Dots     []ChartDot
	Summary  string // the line in words
}

// ChartRow is one day's values, one per series in the chart's order.
type ChartRow struct {
	Day    time.Time
	Values []int
}

// ChartDot is one point of a series.
type ChartDot struct{ X, Y, Title string }

// ChartTick is an axis label at a coordinate.
type ChartTick struct{ At, Label string }

// ChartLine names a series of a chart to draw.
type ChartLine struct{ Key, Label, CSSClass string }

// The chart's drawing area, in SVG user units. The SVG scales to its box
// (at most 960 px wide); on a phone, app.css doubles the text and dots so
// that they stay legible.
const (
	chartW      = 720
	chartH      = 240
	chartLeft   = 64
	chartRight  = 16
	chartTop    = 12
	chartBottom = 30
)

// NewLineChart draws rows (oldest first, each with a value per line) over
// the days days ending on last's day.
func NewLineChart(last time.Time, days int, lines []ChartLine, rows []ChartRow) LineChart {
	last = last.UTC().Truncate(24 * time.Hour)
	c := LineChart{Rows: rows}
	for i := days - 1; i >= 0; i-- {
		c.Days = append(c.Days, last.AddDate(0, 0, -i))
	}
	top := 0
	for _, r := range rows {
		for _, n := range r.Values {
			top = max(top, n)
		}
	}
	top = niceCeil(top)
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	x := func(day time.Time) float64 {
		i := day.Sub(c.Days[0]).Hours() / 24
		return chartLeft + plotW*i/float64(max(len(c.Days)-1, 1))
	}
	y := func(n int) float64 { return chartTop + plotH - plotH*float64(n)/float64(top) }

	for li, l := range lines {
		s := ChartSeries{Key: l.Key, Label: l.Label, CSSClass: l.CSSClass}
		var line []string
		var prev time.Time
		for _, r := range rows {
			if r.Day.Before(c.Days[0]) || r.Day.After(last) {
				continue
			}
			if len(line) > 0 && r.Day.Sub(prev) > 24*time.Hour {
				if len(line) > 1 { // a lone day is only its dot
					s.Lines = append(s.Lines, strings.Join(line, " "))
				}
				line = nil
			}
			px, py := svgNum(x(r.Day)), svgNum(y(r.Values[li]))
			line = append(line, px+","+py)
			s.Dots = append(s.Dots, ChartDot{X: px, Y: py, Title: fmt.Sprintf("%s, %s: %s", l.Label, shortDay(r.Day), Thousands(r.Values[li]))})
			prev = r.Day
		}
		if len(line) > 1 {
			s.Lines = append(s.Lines, strings.Join(line, " "))
		}
		s.Summary = seriesSummary(l.Label, li, rows)
		c.Series = append(c.Series, s)
	}
	for _, n := range []int{0, top / 2, top} {
		if n == top/2 && top%2 != 0 {
			continue
		}
		c.YTicks = append(c.YTicks, ChartTick{At: svgNum(y(n)), Label: compact(n)})
	}
	for _, i := range []int{0, len(c.Days) / 2, len(c.Days) - 1} {
		c.XTicks = append(c.XTicks, ChartTick{At: svgNum(x(c.Days[i])), Label: shortDay(c.Days[i])})
	}
	return c
}

// seriesSummary says how series i moved over the rows.
func seriesSummary(label string, i int, rows []ChartRow) string {
	if len(rows) == 0 {
		return ""
	}
	first, last := rows[0], rows[len(rows)-1]
	if len(rows) == 1 {
		return fmt.Sprintf("%s: %s on %s.", label, Thousands(first.Values[i]), shortDay(first.Day))
	}
	return fmt.Sprintf("%s: %s on %s, %s on %s.", label, Thousands(first.Values[i]), shortDay(first.Day),
		Thousands(last.Values[i]), shortDay(last.Day))
}

// ViewBox is the chart's SVG viewBox.
func (LineChart) ViewBox() string { return fmt.Sprintf("0 0 %d %d", chartW, chartH) }

// Plot edges, for the axes.
func (LineChart) Left() string   { return strconv.Itoa(chartLeft) }
func (LineChart) Right() string  { return strconv.Itoa(chartW - chartRight) }
func (LineChart) Bottom() string { return strconv.Itoa(chartH - chartBottom) }

// XLabelY is the baseline of the day labels.
func (LineChart) XLabelY() string { return strconv.Itoa(chartH - 8) }

// YLabelX is where the value labels end.
func (LineChart) YLabelX() string { return strconv.Itoa(chartLeft - 6) }

// Empty reports whether there is nothing to draw.
func (c LineChart) Empty() bool { return len(c.Rows) == 0 }

// Description is the chart in one sentence per series, for screen readers.
func (c LineChart) Description() string {
	parts := make([]string, len(c.Series))
	for i, s := range c.Series {
		parts[i] = s.Summary
	}
	return strings.Join(parts, " ")
}

// svgNum writes a coordinate: one decimal is finer than a pixel.
func svgNum(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// compact writes an axis value short enough for a phone: 800, 1.5k, 60k,
// 1.2M.
func compact(n int) string {
	switch {
	case n >= 1_000_000:
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64), ".0") + "M"
	case n >= 1000:
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64), ".0") + "k"
	}
	return strconv.Itoa(n)
}

// shortDay is a day as the chart labels it: "Nov 8".
func shortDay(t time.Time) string { return t.UTC().Format("Jan 2") }

// longDay is a day as the chart's table writes it.
func longDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// niceCeil rounds n up to a round number (1, 2, 3, 4, 5, 6 or 8 times a
// power of ten), so the axis reads in round numbers; at least 1.
func niceCeil(n int) int {
	if n <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 3, 4, 5, 6, 8} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

// xAnchor aligns the day labels: the first starts at its day, the last ends
// at it, so neither leaves the chart.
func xAnchor(i, n int) string {
	switch i {
	case 0:
		return "start"
	case n - 1:
		return "end"
	}
	return "middle"
}
