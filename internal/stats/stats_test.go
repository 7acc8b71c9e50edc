package stats

import (
	"math"
	"strings"
	"testing"
)

// Reference values below were computed with R 4.2.2 (Debian r-base-core) and
// cross-checked, where noted, with SciPy 1.10.1 (Debian python3-scipy). They
// are printed with %.17g and pasted verbatim.

const (
	exactTol    = 1e-9 // relative, for exact p-values
	intervalTol = 1e-6 // absolute, for interval end points
)

func closeRel(got, want, tol float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), math.Abs(got))
}

func TestWilson(t *testing.T) {
	tests := []struct {
		k, n   int
		lo, hi float64
	}{
		// R 4.2.2: prop.test(k, n, correct = FALSE)$conf.int (the Wilson score interval)
		{0, 10, 0, 0.27753279986288915},
		{10, 10, 0.72246720013711085, 1},
		{3, 10, 0.10779126740630104, 0.60322185253885452},
		{1, 1, 0.2065493143772375, 1},
		{0, 1, 0, 0.79345068562276255},
		{50, 100, 0.40383153036599567, 0.59616846963400427},
		{1, 1000, 0.00017654637062607817, 0.0056425585979579338},
		{999, 1000, 0.99435744140204207, 0.99982345362937386},
		{37, 250, 0.10931982398325646, 0.19733401886153651},
		{12, 40, 0.18074845229746531, 0.45430018818144935},
		// n == 0: documented convention, no information.
		{0, 0, 0, 1},
	}
	for _, tt := range tests {
		got := Wilson(tt.k, tt.n)
		if math.Abs(got.Lo-tt.lo) > intervalTol || math.Abs(got.Hi-tt.hi) > intervalTol {
			t.Errorf("Wilson(%d, %d) = [%.12g, %.12g], want [%.12g, %.12g]", tt.k, tt.n, got.Lo, got.Hi, tt.lo, tt.hi)
		}
		if got.Lo < 0 || got.Hi > 1 || got.Lo > got.Hi {
			t.Errorf("Wilson(%d, %d) = %+v, want 0 <= Lo <= Hi <= 1", tt.k, tt.n, got)
		}
	}
	// The end points at k == 0 and k == n are exact, not merely close.
	if got := Wilson(0, 7); got.Lo != 0 {
		t.Errorf("Wilson(0, 7).Lo = %g, want exactly 0", got.Lo)
	}
	if got := Wilson(7, 7); got.Hi != 1 {
		t.Errorf("Wilson(7, 7).Hi = %g, want exactly 1", got.Hi)
	}
}

func TestWilsonPanicsOnInvalidCounts(t *testing.T) {
	for _, kn := range [][2]int{{-1, 5}, {6, 5}, {0, -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Wilson(%d, %d) did not panic, want panic", kn[0], kn[1])
				}
			}()
			Wilson(kn[0], kn[1])
		}()
	}
}

func TestMcNemarExact(t *testing.T) {
	tests := []struct {
		b, c int
		want float64
	}{
		// b+c == 0: documented convention.
		{0, 0, 1},
		// R 4.2.2: binom.test(min(b, c), b + c, 0.5)$p.value
		{0, 5, 0.0625},
		{5, 0, 0.0625},
		{2, 8, 0.10937499999999994}, // SciPy 1.10.1: stats.binomtest(2, 10, 0.5).pvalue = 0.109375
		{1, 9, 0.021484375000000014},
		{5, 5, 1},
		{0, 1, 1},
		{10, 30, 0.0022214337732293673},   // SciPy 1.10.1: 0.0022214337732293643
		{100, 150, 0.0018833009350761635}, // SciPy 1.10.1: 0.0018833009350761704
		{3, 0, 0.25000000000000006},
		{7, 6, 1},
		{400, 500, 0.00095644413691894686}, // SciPy 1.10.1: 0.0009564441369189373
		{0, 30, 1.8626451492309628e-09},    // SciPy 1.10.1: 1.862645149230957e-09
	}
	for _, tt := range tests {
		got := McNemarExact(tt.b, tt.c)
		if !closeRel(got, tt.want, exactTol) {
			t.Errorf("McNemarExact(%d, %d) = %.17g, want %.17g", tt.b, tt.c, got, tt.want)
		}
	}
}

func TestFisherExact(t *testing.T) {
	tests := []struct {
		a, b, c, d int
		want       float64
	}{
		// R 4.2.2: fisher.test(matrix(c(a, c, b, d), 2))$p.value
		{3, 1, 1, 3, 0.48571428571428582},          // SciPy 1.10.1: stats.fisher_exact([[3,1],[1,3]]) = 0.48571428571428565
		{0, 5, 5, 0, 0.0079365079365079395},        // SciPy 1.10.1: 0.007936507936507938
		{10, 0, 0, 10, 1.0825088224469028e-05},     // SciPy 1.10.1: 1.082508822446903e-05
		{1, 2, 3, 4, 1},                            // SciPy 1.10.1: 1.0
		{120, 80, 95, 105, 0.015985745931812047},   // SciPy 1.10.1: 0.01598574593181204
		{500, 300, 450, 350, 0.012595209321825323}, // SciPy 1.10.1: 0.012595209321825314
		{2, 7, 8, 2, 0.023014137565221159},         // SciPy 1.10.1: 0.02301413756522116
		{5, 5, 5, 5, 1},
		{1, 0, 0, 0, 1}, // only one table has these margins
		{0, 10, 0, 10, 1},
		{300, 200, 180, 320, 3.7841678740871089e-14}, // SciPy 1.10.1: 3.7841678740871777e-14
		{0, 1, 1, 0, 1},
		{7, 12, 0, 15, 0.010562649824820197}, // SciPy 1.10.1: 0.010562649824820209
		{0, 0, 0, 0, 1},                      // R 4.2.2: fisher.test(matrix(0, 2, 2))$p.value; SciPy 1.10.1: 1.0
	}
	for _, tt := range tests {
		got := FisherExact(tt.a, tt.b, tt.c, tt.d)
		if !closeRel(got, tt.want, exactTol) {
			t.Errorf("FisherExact(%d, %d, %d, %d) = %.17g, want %.17g", tt.a, tt.b, tt.c, tt.d, got, tt.want)
		}
	}
}

func TestFisherExactSymmetry(t *testing.T) {
	// Transposing the table or swapping its rows leaves the two-sided p-value
	// unchanged.
	a, b, c, d := 13, 4, 6, 11
	want := FisherExact(a, b, c, d)
	for _, got := range []float64{FisherExact(a, c, b, d), FisherExact(c, d, a, b), FisherExact(b, a, d, c)} {
		if !closeRel(got, want, exactTol) {
			t.Errorf("FisherExact of rearranged table = %.17g, want %.17g", got, want)
		}
	}
}

func TestRequestsForPower(t *testing.T) {
	tests := []struct {
		p1, p2 float64
		want   int
	}{
		// R 4.2.2, closed form by hand, za <- qnorm(0.975); zb <- qnorm(0.8);
		// pbar <- (p1+p2)/2;
		// ceiling((za*sqrt(2*pbar*(1-pbar)) + zb*sqrt(p1*(1-p1)+p2*(1-p2)))^2/(p1-p2)^2)
		// The unrounded value and power.prop.test(p1=, p2=, power=0.8)$n are
		// given for comparison.
		{0.5, 0.3, 93},     // 92.998844827545597; power.prop.test 92.998845
		{0.3, 0.5, 93},     // 92.998844827545597; power.prop.test 92.998845
		{0.12, 0.05, 248},  // 247.97967596411701; power.prop.test 247.979676
		{0.9, 0.8, 199},    // 198.96341328433107; power.prop.test 198.963413
		{0.01, 0.02, 2319}, // 2318.164675512036; power.prop.test 2318.164677
		{0.6, 0.1, 14},     // 13.03993599713001; power.prop.test 13.039963
		{0, 1, 2},          // 1.9207294103470618; power.prop.test 1.920746
		{0.2, 0.15, 906},   // 905.36577796422137; power.prop.test 905.365778
		// p1 == p2: documented, cannot be detected.
		{0.4, 0.4, 0},
		{0, 0, 0},
	}
	for _, tt := range tests {
		if got := RequestsForPower(tt.p1, tt.p2); got != tt.want {
			t.Errorf("RequestsForPower(%g, %g) = %d, want %d", tt.p1, tt.p2, got, tt.want)
		}
	}
}

func TestRequestsForPowerPanicsOutOfRange(t *testing.T) {
	for _, pp := range [][2]float64{{-0.1, 0.5}, {0.5, 1.1}, {math.NaN(), 0.5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequestsForPower(%g, %g) did not panic, want panic", pp[0], pp[1])
				}
			}()
			RequestsForPower(pp[0], pp[1])
		}()
	}
}

func TestExcludesZero(t *testing.T) {
	tests := []struct {
		iv   Interval
		want bool
	}{
		{Interval{0.01, 0.2}, true},
		{Interval{-0.3, -0.05}, true},
		{Interval{-0.1, 0.1}, false},
		{Interval{0, 0.3}, false}, // touching zero does not exclude it
		{Interval{-0.3, 0}, false},
		{Interval{0, 0}, false},
	}
	for _, tt := range tests {
		if got := ExcludesZero(tt.iv); got != tt.want {
			t.Errorf("ExcludesZero(%+v) = %v, want %v", tt.iv, got, tt.want)
		}
	}
}

func TestGap(t *testing.T) {
	tests := []struct {
		name  string
		pairs []Pair
		want  float64
	}{
		{"empty", nil, 0},
		{"pooled not averaged", []Pair{{FreeK: 1, FreeN: 1, PaidK: 0, PaidN: 1}, {FreeK: 2, FreeN: 9, PaidK: 3, PaidN: 9}}, 3.0/10 - 3.0/10},
		{"simple", []Pair{{FreeK: 7, FreeN: 10, PaidK: 2, PaidN: 10}}, 0.5},
		{"negative", []Pair{{FreeK: 1, FreeN: 4, PaidK: 3, PaidN: 4}}, -0.5},
		{"no free samples", []Pair{{FreeK: 0, FreeN: 0, PaidK: 3, PaidN: 4}}, 0},
		{"no paid samples", []Pair{{FreeK: 2, FreeN: 4, PaidK: 0, PaidN: 0}}, 0},
		{"unequal N", []Pair{{FreeK: 3, FreeN: 5, PaidK: 1, PaidN: 2}, {FreeK: 0, FreeN: 3, PaidK: 0, PaidN: 0}}, 3.0/8 - 1.0/2},
	}
	for _, tt := range tests {
		if got := Gap(tt.pairs); !closeRel(got, tt.want, exactTol) && math.Abs(got-tt.want) > 1e-15 {
			t.Errorf("%s: Gap = %.17g, want %.17g", tt.name, got, tt.want)
		}
	}
}

func TestQuantile7(t *testing.T) {
	xs := []float64{-0.4, -0.2, -0.1, 0.0, 0.05, 0.12, 0.18, 0.25, 0.3, 0.33, 0.6}
	tests := []struct {
		q, want float64
	}{
		// R 4.2.2: quantile(c(0.3, -0.1, 0.25, 0.05, 0.6, -0.4, 0.12, 0.0, 0.33, 0.18, -0.2), q, type = 7)
		{0.025, -0.35000000000000003},
		{0.975, 0.53249999999999997},
		{0.5, 0.12},
		{0, -0.40000000000000002},
		{1, 0.6},
	}
	for _, tt := range tests {
		if got := quantile7(xs, tt.q); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("quantile7(xs, %g) = %.17g, want %.17g", tt.q, got, tt.want)
		}
	}
}

// onePerTier builds n one-sample-per-tier pairs, deterministically, with a
// free compliance rate of about 0.6 and a paid one of about 0.3.
func onePerTier(n int) []Pair {
	pairs := make([]Pair, n)
	for i := range pairs {
		pairs[i] = Pair{FreeN: 1, PaidN: 1}
		if i%5 < 3 {
			pairs[i].FreeK = 1
		}
		if i%10 < 3 {
			pairs[i].PaidK = 1
		}
	}
	return pairs
}

// manyPerTier builds n pairs with several samples per tier and varying N, so
// that resampled pooled gaps take many distinct values.
func manyPerTier(n int) []Pair {
	pairs := make([]Pair, n)
	for i := range pairs {
		fn, pn := 3+i%4, 2+i%5
		pairs[i] = Pair{FreeK: min(i%5, fn), FreeN: fn, PaidK: min(i%3, pn), PaidN: pn}
	}
	return pairs
}

func TestBootstrapGapDeterministic(t *testing.T) {
	pairs := manyPerTier(50)
	a := BootstrapGap(pairs, 2000, 42)
	b := BootstrapGap(pairs, 2000, 42)
	if a != b {
		t.Errorf("BootstrapGap with the same seed = %+v then %+v, want identical", a, b)
	}
	c := BootstrapGap(pairs, 2000, 43)
	if a == c {
		t.Errorf("BootstrapGap with seeds 42 and 43 both = %+v, want different draws", a)
	}
	// Different seeds should still agree to within Monte Carlo error.
	if math.Abs(a.Lo-c.Lo) > 0.05 || math.Abs(a.Hi-c.Hi) > 0.05 {
		t.Errorf("BootstrapGap seeds 42/43 = %+v / %+v, want within 0.05", a, c)
	}
}

func TestBootstrapGapSanity(t *testing.T) {
	small := onePerTier(40)
	large := onePerTier(640)
	for _, pairs := range [][]Pair{small, large} {
		point := Gap(pairs)
		iv := BootstrapGap(pairs, 4000, 7)
		if !(iv.Lo <= point && point <= iv.Hi) {
			t.Errorf("BootstrapGap(n=%d) = %+v, want it to contain the point estimate %g", len(pairs), iv, point)
		}
		if iv.Lo < -1 || iv.Hi > 1 {
			t.Errorf("BootstrapGap(n=%d) = %+v, want within [-1, 1]", len(pairs), iv)
		}
		// With one sample per tier the pooled gap is the mean of the
		// per-request differences, so the percentile interval should be
		// close to the normal one, mean ± 1.96 sd/sqrt(n).
		var sum, sumsq float64
		for _, p := range pairs {
			d := float64(p.FreeK - p.PaidK)
			sum += d
			sumsq += d * d
		}
		n := float64(len(pairs))
		sd := math.Sqrt((sumsq - sum*sum/n) / n)
		normHalf := z975 * sd / math.Sqrt(n)
		if half := (iv.Hi - iv.Lo) / 2; math.Abs(half-normHalf) > 0.15*normHalf {
			t.Errorf("BootstrapGap(n=%d) half-width = %g, want within 15%% of normal approximation %g", len(pairs), half, normHalf)
		}
	}
	ws := BootstrapGap(small, 4000, 7)
	wl := BootstrapGap(large, 4000, 7)
	widthSmall, widthLarge := ws.Hi-ws.Lo, wl.Hi-wl.Lo
	// 16 times the data should give about a quarter of the width.
	if !(widthLarge < widthSmall/2) {
		t.Errorf("BootstrapGap width with 640 pairs = %g, with 40 = %g; want the larger sample at most half as wide", widthLarge, widthSmall)
	}
}

func TestBootstrapGapDegenerate(t *testing.T) {
	tests := []struct {
		name  string
		pairs []Pair
		iters int
		want  Interval
	}{
		{"no pairs", nil, 1000, Interval{0, 0}},
		{"one pair", []Pair{{FreeK: 3, FreeN: 4, PaidK: 1, PaidN: 4}}, 1000, Interval{0.5, 0.5}},
		{"zero iterations", onePerTier(10), 0, Interval{Gap(onePerTier(10)), Gap(onePerTier(10))}},
		// Identical pairs: every resample is the same, so is the interval.
		{"no variation", []Pair{{1, 2, 0, 2}, {1, 2, 0, 2}, {1, 2, 0, 2}}, 500, Interval{0.5, 0.5}},
	}
	for _, tt := range tests {
		got := BootstrapGap(tt.pairs, tt.iters, 1)
		if math.Abs(got.Lo-tt.want.Lo) > intervalTol || math.Abs(got.Hi-tt.want.Hi) > intervalTol {
			t.Errorf("%s: BootstrapGap = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestPairsDiscordant(t *testing.T) {
	tests := []struct {
		name   string
		pairs  []Pair
		b, c   int
		wantOK bool
	}{
		{"empty", nil, 0, 0, false},
		{"counts", []Pair{
			{1, 1, 0, 1}, {1, 1, 0, 1}, {0, 1, 1, 1}, {1, 1, 1, 1}, {0, 1, 0, 1},
		}, 2, 1, true},
		{"several samples", []Pair{{1, 1, 0, 1}, {2, 3, 1, 3}}, 0, 0, false},
		{"missing answer", []Pair{{1, 1, 0, 1}, {0, 0, 1, 1}}, 0, 0, false},
		{"K out of range", []Pair{{2, 1, 0, 1}}, 0, 0, false},
	}
	for _, tt := range tests {
		b, c, ok := PairsDiscordant(tt.pairs)
		if b != tt.b || c != tt.c || ok != tt.wantOK {
			t.Errorf("%s: PairsDiscordant = (%d, %d, %v), want (%d, %d, %v)", tt.name, b, c, ok, tt.b, tt.c, tt.wantOK)
		}
	}
}

// signFlipPairs has per-request differences (free rate - paid rate, N = 12)
// of 6, 3, 4, 0, -3, 9, 6, 2, 3, -4, 6, 8 twelfths.
var signFlipPairs = []Pair{
	{8, 12, 2, 12}, {5, 12, 2, 12}, {7, 12, 3, 12}, {5, 12, 5, 12},
	{2, 12, 5, 12}, {10, 12, 1, 12}, {9, 12, 3, 12}, {4, 12, 2, 12},
	{6, 12, 3, 12}, {1, 12, 5, 12}, {12, 12, 6, 12}, {8, 12, 0, 12},
}

func TestGapTestChoosesMcNemar(t *testing.T) {
	// 10 requests complied in free only, 30 in paid only, 60 concordant.
	var pairs []Pair
	for range 10 {
		pairs = append(pairs, Pair{1, 1, 0, 1})
	}
	for range 30 {
		pairs = append(pairs, Pair{0, 1, 1, 1})
	}
	for range 30 {
		pairs = append(pairs, Pair{1, 1, 1, 1}, Pair{0, 1, 0, 1})
	}
	got := GapTest(pairs, 2000, 3)
	if got.Test != McNemarExactTest {
		t.Errorf("GapTest.Test = %q, want %q", got.Test, McNemarExactTest)
	}
	// R 4.2.2: binom.test(10, 40, 0.5)$p.value
	if want := 0.0022214337732293673; !closeRel(got.P, want, exactTol) {
		t.Errorf("GapTest.P = %.17g, want %.17g", got.P, want)
	}
	if want := Gap(pairs); got.Value != want {
		t.Errorf("GapTest.Value = %g, want %g", got.Value, want)
	}
	if want := -0.2; math.Abs(got.Value-want) > 1e-12 {
		t.Errorf("GapTest.Value = %g, want %g", got.Value, want)
	}
	if want := BootstrapGap(pairs, 2000, 3); got.CI != want {
		t.Errorf("GapTest.CI = %+v, want %+v", got.CI, want)
	}
	if got.Note != "" {
		t.Errorf("GapTest.Note = %q, want empty for McNemar", got.Note)
	}
}

func TestGapTestChoosesPermutation(t *testing.T) {
	const iters = 20000
	got := GapTest(signFlipPairs, iters, 11)
	if got.Test != PairedPermutationTest {
		t.Errorf("GapTest.Test = %q, want %q", got.Test, PairedPermutationTest)
	}
	if !strings.Contains(got.Note, "McNemar") {
		t.Errorf("GapTest.Note = %q, want it to explain why McNemar was not used", got.Note)
	}
	// R 4.2.2, exact enumeration of all 2^12 sign vectors:
	// d <- c(6,3,4,0,-3,9,6,2,3,-4,6,8)/12
	// s <- as.matrix(expand.grid(rep(list(c(-1,1)), 12)))
	// mean(abs(s %*% d) >= abs(sum(d)) - 1e-9)  # 0.0234375
	// The Monte Carlo estimate has standard error about 0.0011 at 20000
	// permutations; allow 5 of them.
	if want := 0.0234375; math.Abs(got.P-want) > 0.0055 {
		t.Errorf("GapTest.P = %g, want %g within 0.0055", got.P, want)
	}
	again := GapTest(signFlipPairs, iters, 11)
	if again != got {
		t.Errorf("GapTest with the same seed = %+v then %+v, want identical", got, again)
	}
}

func TestGapTestPermutationEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		pairs []Pair
		iters int
		want  float64
	}{
		// All differences zero: every permutation ties the observed sum.
		{"no differences", []Pair{{1, 2, 1, 2}, {2, 3, 2, 3}, {0, 4, 0, 4}}, 999, 1},
		// With no permutations the p-value is (0+1)/(0+1).
		{"zero iterations", signFlipPairs, 0, 1},
		{"no request answered in both tiers", []Pair{{1, 2, 0, 0}, {0, 0, 1, 2}}, 999, 1},
	}
	for _, tt := range tests {
		got := GapTest(tt.pairs, tt.iters, 5)
		if got.Test != PairedPermutationTest || got.P != tt.want {
			t.Errorf("%s: GapTest = {Test: %q, P: %g}, want {Test: %q, P: %g}", tt.name, got.Test, got.P, PairedPermutationTest, tt.want)
		}
	}
	// Three requests all with difference +1: exactly 2 of the 8 sign vectors
	// reach |sum| = 3, so the p-value should be near 0.25.
	got := GapTest([]Pair{{2, 2, 0, 2}, {2, 2, 0, 2}, {3, 3, 0, 3}}, 20000, 9)
	if math.Abs(got.P-0.25) > 0.016 {
		t.Errorf("GapTest(three +1 differences).P = %g, want 0.25 within 0.016", got.P)
	}
}

// With several samples per request the permutation test's statistic is
// the pooled gap itself, the value and the interval's estimator, and not
// the unweighted sum of per-request differences, which can point the other
// way when requests have different numbers of answers.
func TestGapTestPermutesThePooledGap(t *testing.T) {
	pairs := []Pair{
		{6, 10, 4, 10}, {7, 10, 4, 10}, {5, 10, 4, 10}, {6, 10, 3, 10}, {0, 1, 1, 1}, {0, 1, 1, 1},
		{0, 1, 1, 1}, {0, 1, 1, 1}, {1, 2, 2, 2}, {8, 10, 5, 10}, {0, 1, 1, 1}, {0, 2, 1, 2},
	}
	// Plain Python 3.11, exact enumeration of all 2^12 swaps:
	//
	//	import itertools
	//	def pooled(ps):
	//	    fk=sum(p[0] for p in ps); fn=sum(p[1] for p in ps); pk=sum(p[2] for p in ps); pn=sum(p[3] for p in ps)
	//	    return fk/fn-pk/pn
	//	def sumd(ps): return sum(p[0]/p[1]-p[2]/p[3] for p in ps)
	//	for stat in (pooled, sumd):
	//	    obs=abs(stat(pairs)); c=0; tot=0
	//	    for bits in itertools.product([0,1], repeat=len(pairs)):
	//	        ps=[(p[2],p[3],p[0],p[1]) if b else p for p,b in zip(pairs,bits)]
	//	        if abs(stat(ps))>=obs-1e-9*max(obs,1): c+=1
	//	        tot+=1
	//	    print(stat.__name__, stat(pairs), c/tot)
	//
	// prints "pooled 0.08474576271186435 0.53759765625" and
	// "sumd -4.8 0.0458984375": the sum of differences would call this
	// negative gap significant while the gap reported is +8.5 points.
	got := GapTest(pairs, 20000, 3)
	if got.Test != PairedPermutationTest || math.Abs(got.Value-0.08474576271186435) > 1e-15 {
		t.Fatalf("GapTest = %+v", got)
	}
	// Monte Carlo standard error at 20000 permutations is about 0.0035.
	if want := 0.53759765625; math.Abs(got.P-want) > 0.015 {
		t.Errorf("GapTest.P = %g, want %g (the pooled gap's exact p) within 0.015", got.P, want)
	}
	if got.FreeRate-got.PaidRate != got.Value {
		t.Errorf("GapTest: value %v is not free rate %v - paid rate %v", got.Value, got.FreeRate, got.PaidRate)
	}
}

func TestBootstrapGapDiff(t *testing.T) {
	// One answer per request, tier and version: the difference of gaps is
	// the mean of per-request differences d, and its percentile interval
	// should be close to the normal one, mean ± 1.96 sd/sqrt(n).
	var ms []Matched
	var sum, sumsq float64
	for i := range 60 {
		m := Matched{Variant: Pair{FreeN: 1, PaidN: 1}, Base: Pair{FreeN: 1, PaidN: 1}}
		if i%5 < 2 {
			m.Variant.FreeK = 1
		}
		if i%3 == 0 {
			m.Base.FreeK = 1
		}
		if i%10 == 0 {
			m.Base.PaidK = 1
		}
		ms = append(ms, m)
		d := float64(m.Variant.FreeK-m.Variant.PaidK) - float64(m.Base.FreeK-m.Base.PaidK)
		sum += d
		sumsq += d * d
	}
	n := float64(len(ms))
	diff, iv := BootstrapGapDiff(ms, 4000, 5)
	if math.Abs(diff-sum/n) > 1e-12 {
		t.Errorf("diff = %v, want %v", diff, sum/n)
	}
	normHalf := z975 * math.Sqrt((sumsq-sum*sum/n)/n) / math.Sqrt(n)
	if half := (iv.Hi - iv.Lo) / 2; math.Abs(half-normHalf) > 0.15*normHalf || !(iv.Lo < diff && diff < iv.Hi) {
		t.Errorf("interval %+v around %v: half-width %v, want within 15%% of %v", iv, diff, half, normHalf)
	}
	if _, again := BootstrapGapDiff(ms, 4000, 5); again != iv {
		t.Errorf("same seed: %+v then %+v", iv, again)
	}
	// Pairing matters: a request that moves both versions alike adds
	// nothing to the difference's uncertainty.
	var same []Matched
	for i := range 40 {
		p := Pair{FreeN: 1, PaidN: 1, FreeK: i % 2}
		same = append(same, Matched{Variant: p, Base: p})
	}
	if d, iv := BootstrapGapDiff(same, 1000, 1); d != 0 || iv != (Interval{}) {
		t.Errorf("identical versions: diff %v in %+v, want exactly 0 in [0, 0]", d, iv)
	}
	if d, iv := BootstrapGapDiff(ms[:1], 1000, 1); iv.Lo != d || iv.Hi != d {
		t.Errorf("one request: %v in %+v, want a degenerate interval", d, iv)
	}
}

func TestGapTestNoPairs(t *testing.T) {
	got := GapTest(nil, 1000, 1)
	if got.P != 1 || got.Test != NoTest || got.Value != 0 || got.CI != (Interval{}) {
		t.Errorf("GapTest(nil) = %+v, want P 1, Test %q, zero Value and CI", got, NoTest)
	}
	if !strings.Contains(got.Note, "no paired requests") {
		t.Errorf("GapTest(nil).Note = %q, want it to say there are no paired requests", got.Note)
	}
}

func BenchmarkBootstrapGap(b *testing.B) {
	pairs := manyPerTier(200)
	for b.Loop() {
		BootstrapGap(pairs, 10000, 1)
	}
}
