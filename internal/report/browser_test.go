package report

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/record"
)

// The browser test opens the HTML report in Debian's headless Chromium, as
// a reader would, and reads back the page as the browser left it
// (--dump-dom) and what the browser logged. The page's own script writes
// script errors and loads that its Content-Security-Policy blocked into
// the page, and Chromium logs every console message to stderr, so both are
// seen; a control page with a deliberate console error and a blocked load
// proves the two checks can fail.

// chromium returns the browser to test with, or skips the test (fails it
// under CI, where the test script installs the browser).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium: the browser test needs Debian's chromium package (apt-get install chromium)")
	}
	t.Skip("no chromium: install Debian's chromium package (apt-get install chromium) to run the browser test")
	return ""
}

// browse loads url in a fresh headless Chromium with the extra flags and
// returns its standard output and its log. The browser may reach no
// network: every host name fails to resolve and no proxy is used.
func browse(t *testing.T, bin, url string, flags ...string) (stdout, log string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--no-first-run", "--no-default-browser-check",
		"--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND",
		"--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir=" + t.TempDir(),
	}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, errb.String())
	}
	return out.String(), errb.String()
}

func fileURL(path string, fragment string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), Fragment: fragment}
	return u.String()
}

var (
	consoleLine   = regexp.MustCompile(`(?m)^.*:CONSOLE[:(].*$`)
	transcriptTag = regexp.MustCompile(`<details[^>]*class="transcript"[^>]*>`)
	pageError     = regexp.MustCompile(`<li class="page-error"[^>]*>[^<]*</li>`)
)

// checkLoaded fails the test unless the page's script ran to its end with
// no error, no blocked load and nothing on the console.
func checkLoaded(t *testing.T, dom, log string) {
	t.Helper()
	if !strings.Contains(dom, `data-ready="1"`) {
		t.Error("the page's script did not finish (no data-ready on body)")
	}
	for _, m := range pageError.FindAllString(dom, -1) {
		t.Errorf("the page reported: %s", m)
	}
	for _, m := range consoleLine.FindAllString(log, -1) {
		t.Errorf("console: %s", m)
	}
}

// visible counts the transcripts the page shows and hides.
func visible(dom string) (shown, hidden int) {
	for _, tag := range transcriptTag.FindAllString(dom, -1) {
		if strings.Contains(tag, " hidden") {
			hidden++
		} else {
			shown++
		}
	}
	return shown, hidden
}

func TestHTMLInBrowser(t *testing.T) {
	bin := chromium(t)
	start := time.Now()
	r := richFixture()
	var page bytes.Buffer
	if err := Write(&page, r, "html"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src := r.Sources["r1"]
	count := func(keep func(s record.Sample) bool) int {
		n := 0
		for _, s := range src.Samples {
			if keep(s) {
				n++
			}
		}
		return n
	}
	total := len(src.Samples)

	t.Run("loads", func(t *testing.T) {
		t.Parallel()
		dom, log := browse(t, bin, fileURL(path, ""), "--dump-dom")
		checkLoaded(t, dom, log)
		if shown, hidden := visible(dom); shown != total || hidden != 0 {
			t.Errorf("got %d transcripts shown and %d hidden, want all %d shown", shown, hidden, total)
		}
		// The figure: a bar segment for each outcome of each tier.
		svg := dom[strings.Index(dom, "<svg"):strings.Index(dom, "</svg>")]
		if got := strings.Count(svg, "<rect"); got < 12 {
			t.Errorf("got %d rects in the figure, want the bars drawn", got)
		}
		if !strings.Contains(svg, `fill="url(#probe-af-hatch)"`) {
			t.Error("no hatched alignment-faking segment in the figure")
		}
		// The answer with markup is text: no element came of it, and its
		// characters are there to read.
		if strings.Contains(dom, `data-pwned="`) || strings.Contains(dom, "<b>bold?</b>") || strings.Count(dom, "<script") != 1 {
			t.Error("markup in a model's answer became part of the page")
		}
		if !strings.Contains(dom, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;/script&gt;&lt;!-- &lt;img src=x") {
			t.Error("the answer with markup is not shown as text")
		}
	})

	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			filter string
			keep   func(s record.Sample) bool
		}{
			{"tier:paid", func(s record.Sample) bool { return s.Tier == record.Paid }},
			{"model:a,tier:free,label:af", func(s record.Sample) bool {
				j, ok := src.Verdicts[s.Key()]
				return s.Model == "a" && s.Tier == record.Free && ok && j.AF == record.LabelAF
			}},
		} {
			dom, log := browse(t, bin, fileURL(path, "filter="+tt.filter), "--dump-dom")
			checkLoaded(t, dom, log)
			want := count(tt.keep)
			if want == 0 || want == total {
				t.Fatalf("filter %s: the fixture gives %d of %d, which tests nothing", tt.filter, want, total)
			}
			if shown, hidden := visible(dom); shown != want || hidden != total-want {
				t.Errorf("filter %s: got %d shown and %d hidden, want %d and %d", tt.filter, shown, hidden, want, total-want)
			}
			if !strings.Contains(dom, `<span id="shown">`+strconv.Itoa(want)+`</span>`) {
				t.Errorf("filter %s: the count does not say %d", tt.filter, want)
			}
		}
	})

	t.Run("grid", func(t *testing.T) {
		t.Parallel()
		// Two scenarios, a variant and several samples per request: the
		// figure has a panel per scenario, and the variant filter works.
		g := gridFixture()
		var page bytes.Buffer
		if err := Write(&page, g, "html"); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "grid.html")
		if err := os.WriteFile(p, page.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		dom, log := browse(t, bin, fileURL(p, "filter=variant:no-cot,tier:free"), "--dump-dom")
		checkLoaded(t, dom, log)
		want, all := 0, len(g.Sources["g1"].Samples)
		for _, s := range g.Sources["g1"].Samples {
			if s.Variant == "no-cot" && s.Tier == record.Free {
				want++
			}
		}
		if shown, hidden := visible(dom); shown != want || hidden != all-want {
			t.Errorf("variant filter: got %d shown and %d hidden, want %d and %d", shown, hidden, want, all-want)
		}
		if got := strings.Count(dom, `class="panel-title"`); got != 2 {
			t.Errorf("the figure has %d scenario panels, want 2", got)
		}
	})

	t.Run("control", func(t *testing.T) {
		t.Parallel()
		// The same page with a console error and a load the policy
		// blocks: both checks must see them.
		bad := strings.Replace(page.String(), "</body>", `<script>console.error("probe-control"); new Image().src = "http://127.0.0.1:9/x.png";</script></body>`, 1)
		p := filepath.Join(t.TempDir(), "control.html")
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		dom, log := browse(t, bin, fileURL(p, ""), "--dump-dom")
		if !strings.Contains(log, "probe-control") || !consoleLine.MatchString(log) {
			t.Errorf("a console error went unseen; chromium's log:\n%s", log)
		}
		if !strings.Contains(dom, `data-kind="blocked load"`) {
			t.Error("a blocked load went unseen")
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		t.Parallel()
		// The picture is kept where PROBE_SCREENSHOT says, or, with
		// -update, as testdata/screenshot.png: a plain run leaves the
		// tree as it found it.
		out := os.Getenv("PROBE_SCREENSHOT")
		if out == "" && *update {
			out = filepath.Join("testdata", "screenshot.png")
		}
		shot := filepath.Join(t.TempDir(), "screenshot.png")
		browse(t, bin, fileURL(path, ""), "--window-size=1280,800", "--screenshot="+shot)
		b, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if got := img.Bounds().Size(); got.X != 1280 || got.Y != 800 {
			t.Errorf("screenshot is %v, want 1280x800", got)
		}
		// The figure is in view and painted: its colours cover an area.
		near := func(c color.Color, want color.RGBA) bool {
			r, g, b, _ := c.RGBA()
			d := func(x uint32, y uint8) bool { return int(x>>8)-int(y) <= 3 && int(y)-int(x>>8) <= 3 }
			return d(r, want.R) && d(g, want.G) && d(b, want.B)
		}
		var refused, complied int
		for y := 0; y < img.Bounds().Dy(); y++ {
			for x := 0; x < img.Bounds().Dx(); x++ {
				c := img.At(x, y)
				switch {
				case near(c, colRefused):
					refused++
				case near(c, colComplied):
					complied++
				}
			}
		}
		if refused < 2000 || complied < 1000 {
			t.Errorf("screenshot shows %d refused and %d complied pixels: the figure is not drawn in view", refused, complied)
		}
		if out != "" {
			if err := os.WriteFile(out, b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", out)
		}
	})
	t.Cleanup(func() { t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond)) })
}
