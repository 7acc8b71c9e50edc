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
