package console

import (
	"fmt"
	"math"
)

// chart is a bar chart laid out on the server, drawn by the chart
// template as SVG: no script, and it reads the same in every browser.
type chart struct {
	Label         string // for screen readers, e.g. "records at each anchor"
	Width, Height float64
	Bars          []bar
	// Ticks on the value axis.
	Ticks []tick
	// Plot area.
	Left, Top, Bottom float64
	// XLabels are a few bar labels shown under the axis.
	XLabels []xlabel
}

type bar struct {
	X, Y, W, H float64
	Title      string // shown on hover and read by screen readers
	Mark       bool   // drawn in the accent colour (e.g. a pending anchor)
}

type tick struct {
	Y     float64
	Label string
}

type xlabel struct {
	X     float64
	Label string
}

// point is one value of a chart.
type point struct {
	Label string
	Value float64
	Title string
	Mark  bool
}

const (
	chartW, chartH       = 640.0, 220.0
	chartLeft, chartTop  = 64.0, 12.0
	chartBottom          = 28.0
	chartRight           = 8.0
	chartTicks           = 4
	chartMaxXLabels      = 8
	chartMinBarGap       = 1.0
	chartBarFillFraction = 0.8
	chartMaxBar          = 48.0
)

// barChart lays out points as bars, left to right.
func barChart(label string, pts []point) chart {
	c := chart{Label: label, Width: chartW, Height: chartH, Left: chartLeft, Top: chartTop, Bottom: chartH - chartBottom}
	if len(pts) == 0 {
		return c
	}
	maxV := 0.0
	for _, p := range pts {
		maxV = math.Max(maxV, p.Value)
	}
	// The axis runs to chartTicks steps of a round size, so counts get
	// whole-number ticks.
	top := niceStep(maxV/chartTicks) * chartTicks
	plotW := chartW - chartLeft - chartRight
	plotH := c.Bottom - chartTop
	slot := plotW / float64(len(pts))
	// A bar is at most chartMaxBar wide: one anchor is a bar, not a wall.
	w := math.Min(math.Max(slot*chartBarFillFraction, math.Min(slot, chartMinBarGap)), chartMaxBar)
	for i, p := range pts {
		h := 0.0
		if top > 0 {
			h = p.Value / top * plotH
		}
		x := chartLeft + float64(i)*slot + (slot-w)/2
		c.Bars = append(c.Bars, bar{X: round1(x), Y: round1(c.Bottom - h), W: round1(w), H: round1(h), Title: p.Title, Mark: p.Mark})
	}
	for i := 0; i <= chartTicks; i++ {
		v := top * float64(i) / chartTicks
		c.Ticks = append(c.Ticks, tick{Y: round1(c.Bottom - plotH*float64(i)/chartTicks), Label: compact(v)})
	}
	step := max(1, (len(pts)+chartMaxXLabels-1)/chartMaxXLabels)
	for i := 0; i < len(pts); i += step {
		c.XLabels = append(c.XLabels, xlabel{X: round1(chartLeft + (float64(i)+0.5)*slot), Label: pts[i].Label})
	}
	return c
}

// niceStep rounds a tick step up to 1, 2 or 5 times a power of ten (and
// 2.5 from 25 on, so 10,000 records get steps of 2,500): whole numbers
// from 1 on.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 0
	}
	if v < 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	ms := []float64{1, 2, 5, 10}
	if p >= 10 {
		ms = []float64{1, 2, 2.5, 5, 10}
	}
	for _, m := range ms {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// compact writes an axis value short: 1500 as 1.5k, 2000000 as 2M.
func compact(v float64) string {
	switch {
	case v >= 1e6:
		return trim(v/1e6) + "M"
	case v >= 1e3:
		return trim(v/1e3) + "k"
	}
	return trim(v)
}

func trim(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
