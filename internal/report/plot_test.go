package report

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/stats"
)

func TestFigureSVGGolden(t *testing.T) {
	r := richFixture()
	var buf bytes.Buffer
	if err := WriteFigure(&buf, r.Table, "svg"); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "figure.svg", buf.Bytes())
}

func TestFigurePNG(t *testing.T) {
	tab := richFixture().Table
	f, err := layoutFigure(tab)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteFigure(&buf, tab, "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if got, want := img.Bounds().Size(), (struct{ X, Y int }{PNGScale * f.W, PNGScale * f.H}); got.X != want.X || got.Y != want.Y {
		t.Fatalf("PNG is %v, want %dx%d", got, want.X, want.Y)
	}
	// The PNG draws the SVG's shapes: the middle of every plain bar
	// segment has its colour, and a hatched one holds both of its colours.
	at := func(x, y float64) color.RGBA {
		return color.RGBAModel.Convert(img.At(int(math.Round(x*PNGScale)), int(math.Round(y*PNGScale)))).(color.RGBA)
	}
	segments := 0
	for _, s := range f.Shapes {
		if s.Kind != rectShape || s.Title == "" || !strings.Contains(s.Title, " of ") || s.W < 8 {
			continue
		}
		segments++
		if !s.Hatch {
			// Sample off the whisker, which runs along the middle.
			if got := at(s.X+s.W/2, s.Y+3); got != s.Fill {
				t.Errorf("%s: pixel is %v, want %v", s.Title, got, s.Fill)
			}
			continue
		}
		seen := map[color.RGBA]bool{}
		for dx := 0.0; dx < 8; dx += 0.5 {
			seen[at(s.X+2+dx, s.Y+3)] = true
		}
		if !seen[colComplied] || !seen[colHatch] {
			t.Errorf("%s: hatched segment shows %v, want both %v and %v", s.Title, seen, colComplied, colHatch)
		}
	}
	if segments < 8 {
		t.Errorf("checked %d bar segments, want every bar's", segments)
	}
}

func TestFigureShares(t *testing.T) {
	// Model a's training bar: 6 complied with alignment faking, 5 refused
	// and 1 unparsed of 12 answered samples, from the left.
	f, err := layoutFigure(richFixture().Table)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	barY := -1.0
	for _, s := range f.Shapes {
		if s.Kind == rectShape && strings.HasPrefix(s.Title, tierNames[0]+": ") && (barY < 0 || s.Y == barY) {
			barY = s.Y
			got = append(got, strings.TrimPrefix(s.Title, tierNames[0]+": "))
		}
	}
	want := []string{
		"complied, alignment-faking reasoning 6 of 12 (50.0%)",
		"refused 5 of 12 (41.7%)",
		"unparsed 1 of 12 (8.3%)",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("segments\n got %q\nwant %q", got, want)
	}
}

func TestFigureEscapes(t *testing.T) {
	tab := build("r1", fixture(), nil).Table
	tab.Groups[0].Model = `<script>alert(1)</script>&`
	var buf bytes.Buffer
	if err := WriteFigure(&buf, tab, "svg"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "<script") || !strings.Contains(buf.String(), "&lt;script&gt;alert(1)&lt;/script&gt;&amp;") {
		t.Errorf("model name not escaped in the SVG:\n%s", buf.String())
	}
}

func TestFigureEmpty(t *testing.T) {
	for _, format := range PlotFormats {
		var buf bytes.Buffer
		if err := WriteFigure(&buf, stats.Build(nil), format); err != nil {
			t.Errorf("%s: %v", format, err)
		}
	}
	if err := WriteFigure(&bytes.Buffer{}, stats.Build(nil), "pdf"); err == nil {
		t.Error("pdf: got nil error")
	}
}

// TestFigureJudgedScale: under a judge rule the whisker is the interval of
// the rate among the answers with a verdict, so the bar is drawn on that
// scale: its counted segments end where the rate is, the whisker holds
// that point, and the answers without a verdict stand apart, beside the
// model's name. The fixture's anti-lab free tier: 1 acted with alignment
// faking, 5 acted, 1 declined and 1 unjudged, a rate of 6/7.
func TestFigureJudgedScale(t *testing.T) {
	r := outcomesFixture()
	f, err := layoutFigure(r.Table)
	if err != nil {
		t.Fatal(err)
	}
	g := r.Table.Groups[0]
	if g.Scenario != "anti-lab" || g.Free.Rate != 6.0/7 {
		t.Fatalf("first group %s at %v, want anti-lab at 6/7", g.Scenario, g.Free.Rate)
	}
	var got []string
	barY, right := -1.0, 0.0
	for _, s := range f.Shapes {
		if s.Kind == rectShape && strings.HasPrefix(s.Title, tierNames[0]+": ") && (barY < 0 || s.Y == barY) {
			barY = s.Y
			got = append(got, strings.TrimPrefix(s.Title, tierNames[0]+": "))
			if !strings.Contains(s.Title, "declined") {
				right = s.X + s.W
			}
		}
	}
	want := []string{
		"acted, alignment-faking reasoning 1 of 7 with a verdict (14.3%)",
		"acted, no alignment faking 5 of 7 with a verdict (71.4%)",
		"declined 1 of 7 with a verdict (14.3%)",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("segments\n got %q\nwant %q", got, want)
	}
	if rate := figBarX + g.Free.Rate*figBarW; math.Abs(right-rate) > 1e-9 {
		t.Errorf("acted segments end at x=%v, the rate is at x=%v", right, rate)
	}
	var whisker *shape
	for i, s := range f.Shapes {
		if s.Kind == lineShape && s.Stroke == colWhisker && s.H == 0 && s.Y == barY+figBarH/2 {
			whisker = &f.Shapes[i]
			break
		}
	}
	if whisker == nil {
		t.Fatal("no whisker on the anti-lab free bar")
	}
	lo, hi := figBarX+g.Free.CI[0]*figBarW, figBarX+g.Free.CI[1]*figBarW
	if math.Abs(whisker.X-lo) > 1e-9 || math.Abs(whisker.X+whisker.W-hi) > 1e-9 || right < whisker.X || right > whisker.X+whisker.W {
		t.Errorf("whisker %v..%v, want %v..%v around the bar's end %v", whisker.X, whisker.X+whisker.W, lo, hi, right)
	}
	var svg bytes.Buffer
	if err := writeSVG(&svg, f, true); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"not in the bars: free 1 unjudged; paid 1 unjudged, 1 unparsed",
		"share of the samples in the rate: every answered sample under the tags, those with a verdict under a judge rule",
	} {
		if !strings.Contains(svg.String(), w) {
			t.Errorf("figure lacks %q", w)
		}
	}
}
