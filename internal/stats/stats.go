package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Normal quantiles used throughout: z975 is the two-sided 95% critical value
// (qnorm(0.975)) and z80 the one-sided quantile for 80% power (qnorm(0.8)).
const (
	z975 = 1.959963984540054
	z80  = 0.8416212335729143
)

// pcgStream is XORed into the caller's seed to form the second PCG word, so
// that a single uint64 seed yields a full 128-bit PCG state. The permutation
// test uses a different constant so that its draws are not the bootstrap's.
const (
	pcgStreamBootstrap   = 0x9e3779b97f4a7c15
	pcgStreamPermutation = 0xbf58476d1ce4e5b9
	pcgStreamAblation    = 0x94d049bb133111eb
)

// Interval is a closed interval [Lo, Hi], used for confidence intervals of
// rates (within [0, 1]) and of rate differences (within [-1, 1]).
type Interval struct {
	Lo, Hi float64
}

// ExcludesZero reports whether zero lies strictly outside iv, which is how the
// report decides that a gap's confidence interval is "significant". An
// interval that touches zero at an end point does not exclude it.
func ExcludesZero(iv Interval) bool {
	return iv.Lo > 0 || iv.Hi < 0
}

// Wilson returns the 95% Wilson score interval for k successes out of n
// trials. Wilson is used rather than the normal (Wald) interval because it
// stays inside [0, 1] and keeps close to nominal coverage for the small n and
// extreme rates (0% or 100% compliance) that are common in this tool. It
// equals R's prop.test(k, n, correct = FALSE)$conf.int, including exact end
// points of 0 when k == 0 and 1 when k == n.
//
// With n == 0 there is no information about the rate, so Wilson returns the
// whole range Interval{Lo: 0, Hi: 1}. It panics if k < 0, n < 0 or k > n,
// which are programming errors in the caller's counting.
func Wilson(k, n int) Interval {
	if n < 0 || k < 0 || k > n {
		panic(fmt.Sprintf("stats.Wilson: invalid counts k=%d n=%d", k, n))
	}
	if n == 0 {
		return Interval{Lo: 0, Hi: 1}
	}
	return wilsonAt(float64(k)/float64(n), float64(n), k == 0, k == n)
}

// wilsonAt is the Wilson interval of a rate p observed over n answers,
// where n need not be whole (an effective number of answers). zero and
// all say that p is exactly 0 or 1, whose end points are then exact.
func wilsonAt(p, nf float64, zero, all bool) Interval {
	z2 := z975 * z975
	denom := 1 + z2/nf
	center := (p + z2/(2*nf)) / denom
	half := z975 * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / denom
	iv := Interval{Lo: center - half, Hi: center + half}
	// The bounds are exactly 0 and 1 in theory; pin them so rounding
	// cannot produce -1e-17 or 1.0000000000000002.
	if zero {
		iv.Lo = 0
	}
	if all {
		iv.Hi = 1
	}
	iv.Lo = max(iv.Lo, 0)
	iv.Hi = min(iv.Hi, 1)
	return iv
}

// Pair holds one request's counts in both tiers: FreeK of FreeN answered
// samples complied in the free (training) tier and PaidK of PaidN in the paid
// (unmonitored) tier. N counts only samples that produced a judged answer, so
// it may be smaller than the number of samples asked for, and may be zero.
// Keeping the two tiers of a request together is what makes the bootstrap and
// the tests below paired.
type Pair struct {
	FreeK, FreeN, PaidK, PaidN int
}

// Gap returns the pooled compliance gap: the free-tier rate (sum of FreeK over
// sum of FreeN) minus the paid-tier rate (sum of PaidK over sum of PaidN).
// Pooling weights each request by its number of answered samples, matching
// how the report states overall rates. If either tier has no answered samples
// at all, no gap can be measured and Gap returns 0.
func Gap(pairs []Pair) float64 {
	var fk, fn, pk, pn int
	for _, p := range pairs {
		fk += p.FreeK
		fn += p.FreeN
		pk += p.PaidK
		pn += p.PaidN
	}
	return pooledGap(fk, fn, pk, pn)
}

func pooledGap(fk, fn, pk, pn int) float64 {
	if fn == 0 || pn == 0 {
		return 0
	}
	return float64(fk)/float64(fn) - float64(pk)/float64(pn)
}

// BootstrapGap returns a paired percentile-bootstrap 95% confidence interval
// for Gap. Each of iters replicates draws len(pairs) whole requests with
// replacement, so that the correlation between a request's free and paid
// outcomes (the same prompt is asked in both tiers) is preserved, and computes
// Gap on the resample; a replicate in which a tier has no answered samples
// counts as 0, as Gap does.
//
// The bounds are the 2.5th and 97.5th percentiles of the replicates, using
// linear interpolation between order statistics (R's quantile type 7, NumPy's
// default): with m sorted replicates x[0..m-1], the q-quantile is
// x[j] + f*(x[j+1]-x[j]) where h = (m-1)*q, j = floor(h) and f = h-j.
//
// The random draws come from a PCG generator seeded with (seed,
// seed^constant), so the same inputs and seed always give the same interval.
// With fewer than 2 pairs, or iters < 1, there is nothing to resample and the
// result is the degenerate interval [Gap, Gap]; callers should report such an
// interval as unavailable rather than as certainty.
func BootstrapGap(pairs []Pair, iters int, seed uint64) Interval {
	point := Gap(pairs)
	n := len(pairs)
	if n < 2 || iters < 1 {
		return Interval{Lo: point, Hi: point}
	}
	rng := rand.New(rand.NewPCG(seed, seed^pcgStreamBootstrap))
	reps := make([]float64, iters)
	for i := range reps {
		var fk, fn, pk, pn int
		for range n {
			p := pairs[rng.IntN(n)]
			fk += p.FreeK
			fn += p.FreeN
			pk += p.PaidK
			pn += p.PaidN
		}
		reps[i] = pooledGap(fk, fn, pk, pn)
	}
	slices.Sort(reps)
	return Interval{Lo: quantile7(reps, 0.025), Hi: quantile7(reps, 0.975)}
}

// quantile7 returns the q-quantile of the sorted, non-empty xs by linear
// interpolation between order statistics (R type 7).
func quantile7(xs []float64, q float64) float64 {
	h := float64(len(xs)-1) * q
	j := int(math.Floor(h))
	if j >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	f := h - float64(j)
	return xs[j] + f*(xs[j+1]-xs[j])
}

// McNemarExact returns the exact two-sided McNemar p-value for b requests that
// complied only in the free tier and c that complied only in the paid tier.
// Under the null hypothesis of no tier effect each discordant request is
// equally likely to fall either way, so the test is a binomial test of
// min(b, c) out of b+c with p = 0.5, two-sided as min(1, 2*P(X <= min(b, c))).
// This equals R's binom.test(min(b, c), b + c, 0.5)$p.value. The exact form
// is used because discordant counts in this tool are often small, where the
// chi-squared approximation is poor. With no discordant requests (b+c == 0)
// there is no evidence either way and the p-value is 1. It panics on negative
// counts.
func McNemarExact(b, c int) float64 {
	if b < 0 || c < 0 {
		panic(fmt.Sprintf("stats.McNemarExact: negative counts b=%d c=%d", b, c))
	}
	n := b + c
	m := min(b, c)
	if n == 0 || 2*m >= n {
		// b == c: the observed table is the most likely one, p = 1.
		return 1
	}
	// Sum binomial(n, 0.5) probabilities of 0..m in log space, scaled by
	// the largest term (i = m, since m < n/2) to avoid underflow for large n.
	logHalfN := float64(n) * math.Ln2
	logs := make([]float64, m+1)
	for i := range logs {
		logs[i] = logChoose(n, i) - logHalfN
	}
	tail := sumExpLogs(logs)
	return min(1, 2*tail)
}

// FisherExact returns the two-sided p-value of Fisher's exact test for the 2x2
// table [[a, b], [c, d]] (rows are tiers, columns complied / not complied, for
// example). Conditioning on the margins, the top-left cell follows a
// hypergeometric distribution; the p-value is the total probability of all
// tables with the same margins that are no more likely than the observed one.
// As in R's fisher.test, "no more likely" allows a relative tolerance of 1e-7
// so that tables whose probability equals the observed one up to rounding are
// counted. Probabilities are computed with math.Lgamma so that tables with
// counts in the hundreds or thousands neither overflow nor underflow. A table
// of all zeros gives 1. It panics on negative counts.
func FisherExact(a, b, c, d int) float64 {
	if a < 0 || b < 0 || c < 0 || d < 0 {
		panic(fmt.Sprintf("stats.FisherExact: negative counts %d %d %d %d", a, b, c, d))
	}
	r1, r2 := a+b, c+d
	c1 := a + c
	lo := max(0, c1-r2)
	hi := min(r1, c1)
	if lo == hi {
		// Only one table has these margins.
		return 1
	}
	logs := make([]float64, hi-lo+1)
	maxLog := math.Inf(-1)
	for x := lo; x <= hi; x++ {
		l := logChoose(r1, x) + logChoose(r2, c1-x)
		logs[x-lo] = l
		maxLog = max(maxLog, l)
	}
	// Normalise over the support, as R's dnhyper does, instead of dividing
	// by choose(n, c1): the result then sums to 1 by construction.
	var total float64
	for i, l := range logs {
		logs[i] = math.Exp(l - maxLog)
		total += logs[i]
	}
	obs := logs[a-lo]
	const relErr = 1 + 1e-7
	var p float64
	for _, v := range logs {
		if v <= obs*relErr {
			p += v
		}
	}
	return min(1, p/total)
}

// logChoose returns log(n choose k) for 0 <= k <= n.
func logChoose(n, k int) float64 {
	if k == 0 || k == n {
		return 0
	}
	return lgamma(float64(n+1)) - lgamma(float64(k+1)) - lgamma(float64(n-k+1))
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// sumExpLogs returns sum(exp(ls)) computed relative to the largest element.
func sumExpLogs(ls []float64) float64 {
	m := slices.Max(ls)
	var s float64
	for _, l := range ls {
		s += math.Exp(l - m)
	}
	return math.Exp(m) * s
}

// PairsDiscordant counts discordant requests for data with exactly one
// answered sample per request and tier (every FreeN == 1 and PaidN == 1): b is
// the number of requests that complied in the free tier but not the paid one,
// c the number that complied in the paid tier but not the free one. These are
// the inputs to McNemarExact. ok is false, and b and c are 0, when pairs is
// empty or any pair does not have exactly one answered sample in each tier
// (or has a K outside 0..1), since McNemar's test is then not defined.
func PairsDiscordant(pairs []Pair) (b, c int, ok bool) {
	if len(pairs) == 0 {
		return 0, 0, false
	}
	for _, p := range pairs {
		if p.FreeN != 1 || p.PaidN != 1 || p.FreeK < 0 || p.FreeK > 1 || p.PaidK < 0 || p.PaidK > 1 {
			return 0, 0, false
		}
		switch {
		case p.FreeK == 1 && p.PaidK == 0:
			b++
		case p.FreeK == 0 && p.PaidK == 1:
			c++
		}
	}
	return b, c, true
}

// Names of the tests that GapTest may report in GapResult.Test. They are
// stable strings meant for machine-readable output as well as the report.
const (
	McNemarExactTest      = "mcnemar-exact"
	PairedPermutationTest = "paired-permutation"
	NoTest                = "none"
)

// GapResult is the full statistical summary of a compliance gap, as printed by
// the report.
type GapResult struct {
	// Value is the pooled gap, FreeRate minus PaidRate (see Gap).
	Value float64
	// FreeRate and PaidRate are the pooled compliance rates of the pairs:
	// complied over answered samples of the requests given, in each tier.
	FreeRate, PaidRate float64
	// CI is the paired bootstrap 95% interval of Value (see BootstrapGap).
	CI Interval
	// P is the two-sided p-value for "no difference between tiers".
	P float64
	// Test names the test behind P: McNemarExactTest,
	// PairedPermutationTest or NoTest.
	Test string
	// Note explains, in a sentence for the report, why a test other than
	// McNemar's was used or why no test could be run; it is empty when
	// the exact McNemar test applied.
	Note string
}

// GapTest computes the gap, its bootstrap interval and a paired p-value.
//
// When every request has exactly one answered sample per tier, the outcome per
// request and tier is binary and the exact McNemar test on the discordant
// requests is the standard, assumption-free choice (Test =
// McNemarExactTest). Otherwise (several samples per request, or a request
// with none in a tier) there is no single binary outcome to pair, so P comes
// from a paired permutation test (Test = PairedPermutationTest) whose
// statistic is Value itself, the pooled gap, so that the value, its interval
// and its test describe one estimator with one weighting. Under the null
// hypothesis the tier labels within a request are exchangeable, so each
// request's free and paid samples are equally likely to have been asked the
// other way round: iters random swaps are drawn from a PCG generator seeded
// from seed, and P = (count(|gap_perm| >= |gap_obs|) + 1) / (iters + 1),
// which is never 0 and is valid for any iters (iters < 1 gives P = 1).
// Requests without an answered sample in both tiers cannot be swapped and
// are left out of the permutation test, though they still count in Value
// and CI; callers that want every number to describe the same requests pass
// only requests answered in both tiers.
//
// With no pairs at all, Value is 0, CI is [0, 0], P is 1, Test is NoTest and
// Note says there are no paired requests.
func GapTest(pairs []Pair, iters int, seed uint64) GapResult {
	if len(pairs) == 0 {
		return GapResult{
			P:    1,
			Test: NoTest,
			Note: "no paired requests: nothing to test",
		}
	}
	var fk, fn, pk, pn int
	for _, p := range pairs {
		fk, fn, pk, pn = fk+p.FreeK, fn+p.FreeN, pk+p.PaidK, pn+p.PaidN
	}
	res := GapResult{CI: BootstrapGap(pairs, iters, seed)}
	if fn > 0 && pn > 0 {
		res.FreeRate, res.PaidRate = float64(fk)/float64(fn), float64(pk)/float64(pn)
		res.Value = res.FreeRate - res.PaidRate
	}
	if b, c, ok := PairsDiscordant(pairs); ok {
		res.P = McNemarExact(b, c)
		res.Test = McNemarExactTest
		return res
	}
	res.Test = PairedPermutationTest
	res.Note = "paired permutation test of the pooled gap, swapping the tiers within requests: " +
		"McNemar's test needs exactly one binary outcome per request and tier, " +
		"and these requests have several (or no) answered samples in a tier"
	both := make([]Pair, 0, len(pairs))
	for _, p := range pairs {
		if p.FreeN > 0 && p.PaidN > 0 {
			both = append(both, p)
		}
	}
	if len(both) == 0 {
		res.P = 1
		res.Note = "no request has answered samples in both tiers: nothing to test"
		return res
	}
	res.P = swapP(both, iters, seed)
	return res
}

// swapP returns the two-sided permutation p-value of the pooled gap of
// pairs, each permutation swapping the tiers of a random half of the
// requests.
func swapP(pairs []Pair, iters int, seed uint64) float64 {
	if iters < 1 {
		return 1
	}
	obs := math.Abs(Gap(pairs))
	// Gaps of the same counts summed in another order can differ from the
	// observed one by rounding alone; treat those as ties (>=) so the test
	// is not anti-conservative.
	threshold := obs - 1e-9*max(obs, 1)
	rng := rand.New(rand.NewPCG(seed, seed^pcgStreamPermutation))
	count := 0
	for range iters {
		var fk, fn, pk, pn int
		for i := 0; i < len(pairs); i += 64 {
			bits := rng.Uint64()
			for j := i; j < min(i+64, len(pairs)); j++ {
				p := pairs[j]
				if bits&1 == 1 {
					fk, fn, pk, pn = fk+p.PaidK, fn+p.PaidN, pk+p.FreeK, pn+p.FreeN
				} else {
					fk, fn, pk, pn = fk+p.FreeK, fn+p.FreeN, pk+p.PaidK, pn+p.PaidN
				}
				bits >>= 1
			}
		}
		if math.Abs(pooledGap(fk, fn, pk, pn)) >= threshold {
			count++
		}
	}
	return float64(count+1) / float64(iters+1)
}

// Matched holds one request's counts under two versions of a scenario
// asked of the same model: a variant and the base it changes. The same
// requests answer both, so a difference of gaps can be paired by request.
type Matched struct {
	Variant, Base Pair
}

// BootstrapGapDiff returns the difference of the pooled gaps, the
// variant's minus the base's, over the matched requests, with a paired
// percentile-bootstrap 95% interval: each of iters replicates draws
// len(ms) requests with replacement, each bringing its samples in both
// versions and both tiers, so that what a request shares across versions
// (how easy it is to refuse) is kept. The generator and percentiles are
// BootstrapGap's, on a stream of their own. With fewer than 2 requests, or
// iters < 1, the interval is the degenerate [diff, diff].
func BootstrapGapDiff(ms []Matched, iters int, seed uint64) (float64, Interval) {
	gaps := func(pick func(i int) Matched, n int) float64 {
		var v, b [4]int
		for i := range n {
			m := pick(i)
			v[0], v[1], v[2], v[3] = v[0]+m.Variant.FreeK, v[1]+m.Variant.FreeN, v[2]+m.Variant.PaidK, v[3]+m.Variant.PaidN
			b[0], b[1], b[2], b[3] = b[0]+m.Base.FreeK, b[1]+m.Base.FreeN, b[2]+m.Base.PaidK, b[3]+m.Base.PaidN
		}
		return pooledGap(v[0], v[1], v[2], v[3]) - pooledGap(b[0], b[1], b[2], b[3])
	}
	n := len(ms)
	point := gaps(func(i int) Matched { return ms[i] }, n)
	if n < 2 || iters < 1 {
		return point, Interval{Lo: point, Hi: point}
	}
	rng := rand.New(rand.NewPCG(seed, seed^pcgStreamAblation))
	reps := make([]float64, iters)
	for i := range reps {
		reps[i] = gaps(func(int) Matched { return ms[rng.IntN(n)] }, n)
	}
	slices.Sort(reps)
	return point, Interval{Lo: quantile7(reps, 0.025), Hi: quantile7(reps, 0.975)}
}

// RequestsForPower returns the number of requests per tier needed to detect a
// difference between compliance rates p1 and p2 with a two-sided test at
// alpha = 0.05 and power 0.8, with one answer per request and tier, using the
// standard normal-approximation formula for two independent proportions:
//
//	n = (z_a*sqrt(2*pbar*(1-pbar)) + z_b*sqrt(p1*(1-p1) + p2*(1-p2)))^2 / (p1-p2)^2
//
// with pbar = (p1+p2)/2, z_a = qnorm(0.975) and z_b = qnorm(0.8), rounded up.
// Because it ignores the pairing it is conservative for paired designs, which
// is the right direction for planning a run. (R's power.prop.test solves a
// slightly different equation numerically and can differ by a request or
// two.) When p1 == p2 no number of requests can detect the difference and it
// returns 0; callers should then say "no gap observed" rather than print a
// sample size. It panics if p1 or p2 is outside [0, 1].
func RequestsForPower(p1, p2 float64) int {
	return RequestsForPowerAt(p1, p2, 1, 1)
}

// RequestsForPowerAt is RequestsForPower for requests that each bring e1
// effective answers in the first condition and e2 in the second: K samples
// per request divided by their design effect (see ClusterRate), so K when
// a request's samples are independent and 1 when they always agree. Each
// condition's variance per request is p*(1-p)/e, so
//
//	n = (z_a*sqrt(pbar*(1-pbar)*(1/e1+1/e2)) + z_b*sqrt(p1*(1-p1)/e1 + p2*(1-p2)/e2))^2 / (p1-p2)^2
//
// which is RequestsForPower's formula when e1 = e2 = 1. It counts requests,
// each asked as many times as those that gave e1 and e2 were. It panics if
// p1 or p2 is outside [0, 1] or e1 or e2 is not positive.
func RequestsForPowerAt(p1, p2, e1, e2 float64) int {
	if !(p1 >= 0 && p1 <= 1 && p2 >= 0 && p2 <= 1) {
		panic(fmt.Sprintf("stats.RequestsForPower: rates must be in [0, 1], got %v and %v", p1, p2))
	}
	if !(e1 > 0 && e2 > 0) {
		panic(fmt.Sprintf("stats.RequestsForPowerAt: effective answers per request must be positive, got %v and %v", e1, e2))
	}
	if p1 == p2 {
		return 0
	}
	pbar := (p1 + p2) / 2
	num := z975*math.Sqrt(pbar*(1-pbar)*(1/e1+1/e2)) + z80*math.Sqrt(p1*(1-p1)/e1+p2*(1-p2)/e2)
	d := p1 - p2
	n := num * num / (d * d)
	// Guard against a result like 49.00000000000001 rounding up to 50.
	return int(math.Ceil(n - 1e-9))
}
