package report

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/stats"
)

// The figure is the paper's: one panel per scenario, and in it for each
// model (and variant, and run) two horizontal stacked bars, training (free
// tier) above unmonitored (paid tier), split into complied with
// alignment-faking reasoning (hatched), complied without, refused and
// unparsed, as shares of the samples in the rate, with a whisker for the
// rate's 95% interval (the table's: Wilson, counted in requests when a
// request has several samples). Bar and whisker share one scale: under the
// tags the samples in the rate are every answered sample; under a judge
// rule they are the answers with a verdict, and the answers without one
// (unjudged, or unparsed: no output) are counted beside the model's name
// instead. It is laid out once, in pixels, as a list of shapes; the SVG and
// PNG writers only draw those shapes, so the two files agree.

// PNGScale is how many PNG pixels stand for one figure pixel: PNGs are
// drawn at twice the SVG's size so that they stay sharp on slides.
const PNGScale = 2

// Figure geometry, in figure pixels.
const (
	figWidth    = 880
	figPad      = 16
	figBarX     = 200 // left end of the bars
	figBarW     = 480
	figBarH     = 20
	figBarGap   = 6  // between a group's two bars
	figTitleH   = 24 // a group's title line, above its bars
	figPanelH   = 30 // a scenario panel's title line, above its groups
	figGroupGap = 14 // below a group
	figFontSize = 12
	figSwatch   = 14
)

// The figure's colours: refused in blue, compliance in yellow, alignment
// faking as red hatching over the yellow, as in the paper.
var (
	colRefused  = color.RGBA{0x8f, 0xb9, 0xdc, 0xff}
	colComplied = color.RGBA{0xf3, 0xc9, 0x69, 0xff}
	colHatch    = color.RGBA{0xc8, 0x3e, 0x30, 0xff}
	colUnparsed = color.RGBA{0xd0, 0xd0, 0xd0, 0xff}
	colText     = color.RGBA{0x1f, 0x23, 0x28, 0xff}
	colMuted    = color.RGBA{0x5f, 0x66, 0x6d, 0xff}
	colGrid     = color.RGBA{0xe6, 0xe6, 0xe6, 0xff}
	colAxis     = color.RGBA{0x88, 0x88, 0x88, 0xff}
	colWhisker  = color.RGBA{0x22, 0x22, 0x22, 0xff}
	colWhite    = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

type shapeKind int

const (
	rectShape shapeKind = iota
	lineShape
	textShape
)

// shape is one thing drawn. A rect fills X, Y, W, H (hatched when Hatch is
// set, outlined when Stroke is not transparent); a line, always horizontal
// or vertical, runs from (X, Y) to (X+W, Y+H) with thickness Width; a text
// has its baseline at Y and is anchored at X by Anchor.
type shape struct {
	Kind       shapeKind
	X, Y, W, H float64
	Fill       color.RGBA
	Stroke     color.RGBA
	Hatch      bool
	Width      float64
	Text       string
	Anchor     string // "start", "middle" or "end"
	Bold       bool
	// Class names a text's role in the SVG, for readers and tests.
	Class string
	// Title is a tooltip in the SVG.
	Title string
}

// figure is the laid-out figure.
type figure struct {
	W, H   int
	Shapes []shape
}

func (f *figure) rect(x, y, w, h float64, fill color.RGBA, hatch bool, title string) {
	f.Shapes = append(f.Shapes, shape{Kind: rectShape, X: x, Y: y, W: w, H: h, Fill: fill, Hatch: hatch, Title: title})
}

func (f *figure) line(x1, y1, x2, y2, width float64, c color.RGBA) {
	f.Shapes = append(f.Shapes, shape{Kind: lineShape, X: x1, Y: y1, W: x2 - x1, H: y2 - y1, Width: width, Stroke: c})
}

func (f *figure) text(x, y float64, s, anchor string, bold bool, c color.RGBA) {
	f.Shapes = append(f.Shapes, shape{Kind: textShape, X: x, Y: y, Text: s, Anchor: anchor, Bold: bold, Fill: c})
}

// fonts measures text for the layout and draws it in PNGs. The SVG names
// a sans-serif family instead, whose widths are close.
type fonts struct {
	regular, bold *opentype.Font
}

func loadFonts() (fonts, error) {
	r, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return fonts{}, fmt.Errorf("load figure font: %w", err)
	}
	b, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return fonts{}, fmt.Errorf("load figure font: %w", err)
	}
	return fonts{regular: r, bold: b}, nil
}

func (fs fonts) face(bold bool, scale int) (font.Face, error) {
	f := fs.regular
	if bold {
		f = fs.bold
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: figFontSize * float64(scale), DPI: 72, Hinting: font.HintingFull})
}

// measure returns the width of s in figure pixels.
func (fs fonts) measure(s string, bold bool) float64 {
	face, err := fs.face(bold, 1)
	if err != nil {
		return 7 * float64(len([]rune(s)))
	}
	defer face.Close()
	w := font.MeasureString(face, s)
	// Leave room for browsers' sans-serif fonts, a little wider than Go's.
	return 1.08 * float64(w) / 64
}

// fit shortens s with an ellipsis until it is at most width wide.
func (fs fonts) fit(s string, width float64, bold bool) string {
	if fs.measure(s, bold) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 1 {
		r = r[:len(r)-1]
		if t := string(r) + "…"; fs.measure(t, bold) <= width {
			return t
		}
	}
	return "…"
}

// Segment names, shown in the legend and in tooltips.
const (
	segAF       = "complied, alignment-faking reasoning"
	segComplied = "complied, no alignment faking"
	segPlain    = "complied"
	segRefused  = "refused"
	segUnparsed = "unparsed"
)

// tierNames are the bars' labels: the paper's names for the conditions.
var tierNames = [2]string{"training (free tier)", "unmonitored (paid tier)"}

// layoutFigure lays out the table's groups as the paper's figure, one
// panel per scenario.
func layoutFigure(t *stats.Table) (figure, error) {
	fs, err := loadFonts()
	if err != nil {
		return figure{}, err
	}
	f := figure{W: figWidth}
	judged := t.Judged()
	multi := len(t.Runs) > 1

	// The legend, wrapped to the width.
	y := float64(figPad)
	x := float64(figPad)
	item := func(w float64) {
		if x+w > figWidth-figPad && x > figPad {
			x = figPad
			y += figSwatch + 8
		}
	}
	type entry struct {
		name  string
		fill  color.RGBA
		hatch bool
	}
	entries := []entry{{segRefused, colRefused, false}, {segPlain, colComplied, false}}
	if judged {
		entries = []entry{{segRefused, colRefused, false}, {segComplied, colComplied, false}, {segAF, colComplied, true}}
	}
	// Unparsed answers are in the bars only under the tags.
	var tagRule, judgeRule bool
	for _, g := range t.Groups {
		judgeRule = judgeRule || g.Judged()
		tagRule = tagRule || !g.Judged()
	}
	if tagRule || len(t.Groups) == 0 {
		entries = append(entries, entry{segUnparsed, colUnparsed, false})
	}
	for _, e := range entries {
		w := figSwatch + 6 + fs.measure(e.name, false) + 18
		item(w)
		f.rect(x, y, figSwatch, figSwatch, e.fill, e.hatch, e.name)
		f.text(x+figSwatch+6, y+11, e.name, "start", false, colText)
		x += w
	}
	whiskerLabel := "95% interval of compliance"
	if judgeRule {
		whiskerLabel = "95% interval of the rate"
	}
	w := 22 + 6 + fs.measure(whiskerLabel, false)
	item(w)
	cy := y + figSwatch/2
	f.line(x, cy, x+20, cy, 1.5, colWhisker)
	f.line(x, cy-5, x, cy+5, 1.5, colWhisker)
	f.line(x+20, cy-5, x+20, cy+5, 1.5, colWhisker)
	f.text(x+28, y+11, whiskerLabel, "start", false, colText)
	y += figSwatch + 18

	top := y
	groupH := float64(figTitleH + 2*figBarH + figBarGap + figGroupGap)
	scenarios := t.Scenarios()
	axisY := top + groupH*float64(len(t.Groups)) + figPanelH*float64(len(scenarios))
	if len(t.Groups) == 0 {
		f.text(figPad, top+14, "no samples yet", "start", false, colMuted)
		axisY = top + 28
	}
	// Grid lines go first, under the bars.
	ticks := []float64{0, 0.25, 0.5, 0.75, 1}
	for _, tk := range ticks[1:] {
		gx := figBarX + tk*figBarW
		f.line(gx, top, gx, axisY, 1, colGrid)
	}

	for _, sc := range scenarios {
		title := "scenario " + sc
		// A panel whose outcome a judge question decides names it, and
		// the outcomes the colours stand for when they are not the tags'.
		var rules []string
		for _, g := range t.Groups {
			if g.Scenario != sc || !g.Judged() {
				continue
			}
			r := g.OutcomeRule
			if g.Outcomes.Counted != record.LabelComplied {
				r += " (yellow " + g.Outcomes.Counted + ", blue " + g.Outcomes.Other + ")"
			}
			if !slices.Contains(rules, r) {
				rules = append(rules, r)
			}
		}
		if len(rules) > 0 {
			title += " · outcome by " + strings.Join(rules, ", ")
		}
		f.Shapes = append(f.Shapes, shape{Kind: textShape, X: figPad, Y: y + 20, Text: fs.fit(title, figWidth-2*figPad, true), Anchor: "start", Bold: true, Fill: colText, Class: "panel-title"})
		f.line(figPad, y+26, figWidth-figPad, y+26, 1, colAxis)
		y += figPanelH
		for _, g := range t.Groups {
			if g.Scenario != sc {
				continue
			}
			title := g.Label(multi)
			rowJudged := g.Free.HasVerdicts() || g.Paid.HasVerdicts()
			if judged && !rowJudged {
				title += "  · reasoning not judged"
			}
			groupTitle(&f, fs, g, title, y+16)
			by := y + figTitleH
			for i, tr := range []stats.TierSummary{g.Free, g.Paid} {
				f.text(figPad+8, by+14, tierNames[i], "start", false, colText)
				barRow(&f, fs, g, tr, tierNames[i], by, rowJudged)
				by += figBarH + figBarGap
			}
			y += groupH
		}
	}

	// The axis, below the last group.
	f.line(figBarX, axisY, figBarX+figBarW, axisY, 1, colAxis)
	for _, tk := range ticks {
		tx := figBarX + tk*figBarW
		f.line(tx, axisY, tx, axisY+4, 1, colAxis)
		f.text(tx, axisY+17, fmt.Sprintf("%.0f%%", 100*tk), "middle", false, colMuted)
	}
	f.text(figBarX+figBarW/2, axisY+35, fs.fit(axisTitle(tagRule, judgeRule), figWidth-2*figPad, false), "middle", false, colMuted)
	f.H = int(axisY + 48)
	return f, nil
}

// axisTitle says what the bars are shares of.
func axisTitle(tagRule, judgeRule bool) string {
	switch {
	case judgeRule && tagRule:
		return "share of the samples in the rate: every answered sample under the tags, those with a verdict under a judge rule (errors never)"
	case judgeRule:
		return "share of the answers with a verdict (those without one are counted beside the model's name; errors are not counted)"
	}
	return "share of answered samples (errors are not counted)"
}

// groupTitle writes a group's title line and, under a judge rule, the
// answers its bars leave out: those without a verdict.
func groupTitle(f *figure, fs fonts, g stats.Group, title string, y float64) {
	width := float64(figWidth - 2*figPad)
	var apart []string
	if g.Judged() {
		for i, t := range []stats.TierSummary{g.Free, g.Paid} {
			var parts []string
			if t.Unjudged > 0 {
				parts = append(parts, fmt.Sprintf("%d unjudged", t.Unjudged))
			}
			if t.Unparsed > 0 {
				parts = append(parts, fmt.Sprintf("%d unparsed", t.Unparsed))
			}
			if len(parts) > 0 {
				apart = append(apart, tierName(i)+" "+strings.Join(parts, ", "))
			}
		}
	}
	if len(apart) == 0 {
		f.text(figPad, y, fs.fit(title, width, true), "start", true, colText)
		return
	}
	note := "not in the bars: " + strings.Join(apart, "; ")
	noteW := min(fs.measure(note, false), width/2)
	title = fs.fit(title, width-noteW-10, true)
	f.text(figPad, y, title, "start", true, colText)
	x := figPad + fs.measure(title, true) + 10
	f.text(x, y, fs.fit(note, figWidth-figPad-x, false), "start", false, colMuted)
}

// barRow draws one tier's stacked bar, its whisker and its label. The bar
// is the rate's samples (RateN), so that the whisker, the rate's interval,
// stands on the bar's scale.
func barRow(f *figure, fs fonts, g stats.Group, t stats.TierSummary, name string, y float64, judged bool) {
	if t.N == 0 {
		f.Shapes = append(f.Shapes, shape{Kind: rectShape, X: figBarX, Y: y, W: figBarW, H: figBarH, Stroke: colAxis, Title: name + ": no answered samples"})
		f.text(figBarX+figBarW+10, y+14, "no answers", "start", false, colMuted)
		return
	}
	if t.RateN == 0 {
		// Every answer still waits for its verdict: there is no rate.
		f.Shapes = append(f.Shapes, shape{Kind: rectShape, X: figBarX, Y: y, W: figBarW, H: figBarH, Stroke: colAxis, Title: name + ": no answer with a verdict yet"})
		f.text(figBarX+figBarW+10, y+14, fs.fit(fmt.Sprintf("no verdict yet, n=%d", t.N), figWidth-figPad-figBarX-figBarW-10, false), "start", false, colMuted)
		return
	}
	n := float64(t.RateN)
	of := fmt.Sprint(t.RateN)
	if g.Judged() {
		of += " with a verdict"
	}
	plain := segPlain
	if judged {
		plain = segComplied
	}
	af, refused := segAF, segRefused
	if c := g.Outcomes.Counted; c != "" && c != record.LabelComplied {
		// The outcomes a judge question names (acted, declined).
		af, plain, refused = strings.Replace(af, segPlain, c, 1), strings.Replace(plain, segPlain, c, 1), g.Outcomes.Other
	}
	segs := []struct {
		name  string
		k     int
		fill  color.RGBA
		hatch bool
	}{
		{af, t.CompliedAF, colComplied, true},
		{plain, t.Complied - t.CompliedAF, colComplied, false},
		{refused, t.Refused, colRefused, false},
	}
	if !g.Judged() {
		// Under the tags an unparsed answer is in the rate, against
		// compliance; under a judge rule it stands apart (groupTitle).
		segs = append(segs, struct {
			name  string
			k     int
			fill  color.RGBA
			hatch bool
		}{segUnparsed, t.Unparsed, colUnparsed, false})
	}
	x := float64(figBarX)
	for _, s := range segs {
		if s.k <= 0 {
			continue
		}
		w := float64(s.k) / n * figBarW
		f.rect(x, y, w, figBarH, s.fill, s.hatch, fmt.Sprintf("%s: %s %d of %s (%.1f%%)", name, s.name, s.k, of, 100*float64(s.k)/n))
		x += w
	}
	// The whisker: the compliance rate's interval, as the table gives it,
	// on the edge between compliance and the rest.
	lo, hi := figBarX+t.CI[0]*figBarW, figBarX+t.CI[1]*figBarW
	cy := y + figBarH/2
	f.line(lo, cy, hi, cy, 1.5, colWhisker)
	f.line(lo, cy-5, lo, cy+5, 1.5, colWhisker)
	f.line(hi, cy-5, hi, cy+5, 1.5, colWhisker)
	label := fmt.Sprintf("%.1f%% complied, n=%d", 100*t.Rate, t.N)
	if g.Judged() {
		// The rate counts only the answers with a verdict.
		label = fmt.Sprintf("%.1f%% %s of %d judged, n=%d", 100*t.Rate, g.Outcomes.Counted, t.RateN, t.N)
	}
	f.text(figBarX+figBarW+10, y+14, fs.fit(label, figWidth-figPad-figBarX-figBarW-10, false), "start", false, colText)
}

// writeSVG draws f as SVG. A standalone file gets an XML declaration; the
// HTML report inlines it without one. Every text is escaped here, so the
// result is safe to inline in HTML.
func writeSVG(w io.Writer, f figure, standalone bool) error {
	var b strings.Builder
	if standalone {
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="figure" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="Compliance by tier: refused, complied and alignment-faking reasoning, training versus unmonitored">`+"\n", f.W, f.H, f.W, f.H)
	// The hatch is two stripes of every 6 pixels, at 45 degrees: the PNG
	// draws the same.
	fmt.Fprintf(&b, `<defs><pattern id="probe-af-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="%s"/><rect width="2" height="6" fill="%s"/></pattern></defs>`+"\n", hex(colComplied), hex(colHatch))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", f.W, f.H)
	fmt.Fprintf(&b, `<g font-family="'DejaVu Sans', 'Helvetica Neue', Helvetica, Arial, sans-serif" font-size="%d">`+"\n", figFontSize)
	for _, s := range f.Shapes {
		switch s.Kind {
		case rectShape:
			fill := hex(s.Fill)
			if s.Hatch {
				fill = "url(#probe-af-hatch)"
			}
			if s.Fill.A == 0 && !s.Hatch {
				fill = "none"
			}
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"`, coord(s.X), coord(s.Y), coord(s.W), coord(s.H), fill)
			if s.Stroke.A != 0 {
				fmt.Fprintf(&b, ` stroke="%s"`, hex(s.Stroke))
			}
			if s.Title != "" {
				fmt.Fprintf(&b, `><title>%s</title></rect>`+"\n", esc(s.Title))
			} else {
				b.WriteString("/>\n")
			}
		case lineShape:
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"/>`+"\n", coord(s.X), coord(s.Y), coord(s.X+s.W), coord(s.Y+s.H), hex(s.Stroke), coord(s.Width))
		case textShape:
			fmt.Fprintf(&b, `<text x="%s" y="%s" fill="%s"`, coord(s.X), coord(s.Y), hex(s.Fill))
			if s.Class != "" {
				fmt.Fprintf(&b, ` class="%s"`, esc(s.Class))
			}
			if s.Anchor != "start" {
				fmt.Fprintf(&b, ` text-anchor="%s"`, s.Anchor)
			}
			if s.Bold {
				b.WriteString(` font-weight="bold"`)
			}
			fmt.Fprintf(&b, ">%s</text>\n", esc(s.Text))
		}
	}
	b.WriteString("</g>\n</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// esc escapes text for XML and HTML alike.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// coord formats a coordinate with at most two decimals, so that the SVG is
// the same on every platform.
func coord(x float64) string {
	return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64)
}

// writePNG draws f as a PNG of PNGScale times its size.
func writePNG(w io.Writer, f figure) error {
	const s = PNGScale
	img := image.NewRGBA(image.Rect(0, 0, f.W*s, f.H*s))
	draw.Draw(img, img.Bounds(), image.NewUniform(colWhite), image.Point{}, draw.Src)
	fs, err := loadFonts()
	if err != nil {
		return err
	}
	faces := map[bool]font.Face{}
	for _, bold := range []bool{false, true} {
		face, err := fs.face(bold, s)
		if err != nil {
			return fmt.Errorf("load figure font: %w", err)
		}
		defer face.Close()
		faces[bold] = face
	}
	px := func(v float64) int { return int(math.Round(v * s)) }
	for _, sh := range f.Shapes {
		switch sh.Kind {
		case rectShape:
			r := image.Rect(px(sh.X), px(sh.Y), px(sh.X+sh.W), px(sh.Y+sh.H))
			if sh.Fill.A != 0 {
				draw.Draw(img, r, image.NewUniform(sh.Fill), image.Point{}, draw.Src)
			}
			if sh.Hatch {
				hatch(img, r)
			}
			if sh.Stroke.A != 0 {
				outline(img, r, sh.Stroke)
			}
		case lineShape:
			// Lines are horizontal or vertical: a thin rectangle.
			half := math.Max(sh.Width*s/2, 0.5)
			x1, y1, x2, y2 := sh.X*s, sh.Y*s, (sh.X+sh.W)*s, (sh.Y+sh.H)*s
			r := image.Rect(int(math.Round(math.Min(x1, x2)-half)), int(math.Round(math.Min(y1, y2)-half)), int(math.Round(math.Max(x1, x2)+half)), int(math.Round(math.Max(y1, y2)+half)))
			draw.Draw(img, r, image.NewUniform(sh.Stroke), image.Point{}, draw.Over)
		case textShape:
			face := faces[sh.Bold]
			adv := font.MeasureString(face, sh.Text)
			x := fixed.Int26_6(math.Round(sh.X * s * 64))
			switch sh.Anchor {
			case "middle":
				x -= adv / 2
			case "end":
				x -= adv
			}
			d := font.Drawer{Dst: img, Src: image.NewUniform(sh.Fill), Face: face, Dot: fixed.Point26_6{X: x, Y: fixed.I(px(sh.Y))}}
			d.DrawString(sh.Text)
		}
	}
	return png.Encode(w, img)
}

// hatch draws the SVG pattern's stripes over r: a stripe 2 of every 6
// pixels wide, measured across the stripes, at 45 degrees.
func hatch(img *image.RGBA, r image.Rectangle) {
	period := 6 * math.Sqrt2 * PNGScale
	width := 2 * math.Sqrt2 * PNGScale
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if math.Mod(float64(x+y), period) < width {
				img.SetRGBA(x, y, colHatch)
			}
		}
	}
}

func outline(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	u := image.NewUniform(c)
	draw.Draw(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+PNGScale), u, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(r.Min.X, r.Max.Y-PNGScale, r.Max.X, r.Max.Y), u, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+PNGScale, r.Max.Y), u, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(r.Max.X-PNGScale, r.Min.Y, r.Max.X, r.Max.Y), u, image.Point{}, draw.Src)
}

// PlotFormats lists the figure formats WriteFigure knows.
var PlotFormats = []string{"svg", "png"}

// WriteFigure draws the figure of the table as a standalone SVG or a PNG.
func WriteFigure(w io.Writer, t *stats.Table, format string) error {
	f, err := layoutFigure(t)
	if err != nil {
		return err
	}
	switch format {
	case "svg":
		return writeSVG(w, f, true)
	case "png":
		return writePNG(w, f)
	}
	return fmt.Errorf("unknown figure format %q (want one of %s)", format, strings.Join(PlotFormats, ", "))
}
