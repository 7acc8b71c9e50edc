package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func width(iv Interval) float64 { return iv.Hi - iv.Lo }

func TestClusterRateOneSamplePerRequestIsWilson(t *testing.T) {
	cs := []Cluster{{1, 1}, {0, 1}, {1, 1}, {0, 0}, {0, 1}}
	r := ClusterRate(cs)
	if want := Wilson(2, 4); r.CI != want || r.Method != MethodWilson || r.K != 2 || r.N != 4 || r.Requests != 4 || r.DesignEffect != 1 || r.EffectiveN != 4 {
		t.Errorf("ClusterRate = %+v, want Wilson(2, 4) = %+v over 4 requests", r, want)
	}
	if r := ClusterRate(nil); r.CI != (Interval{0, 1}) || r.N != 0 || r.Value != 0 {
		t.Errorf("ClusterRate(nil) = %+v, want the whole range", r)
	}
}

// Samples of a request that always agree carry one answer's information:
// the interval is about as wide as that of the requests alone.
func TestClusterRateAlwaysAgree(t *testing.T) {
	for _, tt := range []struct{ requests, k, agree int }{{40, 5, 12}, {40, 3, 20}, {100, 10, 7}, {25, 2, 24}} {
		var cs []Cluster
		for i := range tt.requests {
			c := Cluster{N: tt.k}
			if i < tt.agree {
				c.K = tt.k
			}
			cs = append(cs, c)
		}
		r := ClusterRate(cs)
		theory := Wilson(tt.agree, tt.requests)
		if got := width(r.CI) / width(theory); math.Abs(got-1) > 0.2 || r.Method != MethodWilsonDesignEffect {
			t.Errorf("%d requests x %d agreeing samples, %d complied: %s width %.4f, want within 20%% of Wilson over %d answers (%.4f)",
				tt.requests, tt.k, tt.agree, r.Method, width(r.CI), tt.requests, width(theory))
		}
		if math.Abs(r.EffectiveN-float64(tt.requests)) > 0.2*float64(tt.requests) {
			t.Errorf("%d x %d agreeing: effective n %.1f, want about %d", tt.requests, tt.k, r.EffectiveN, tt.requests)
		}
		// Ignoring the requests, as the report did, claims K times the data.
		if naive := Wilson(tt.agree*tt.k, tt.requests*tt.k); width(r.CI) < 1.3*width(naive) {
			t.Errorf("%d x %d agreeing: width %.4f, not clearly wider than the %.4f of %d independent answers", tt.requests, tt.k, width(r.CI), width(naive), tt.requests*tt.k)
		}
	}
}

// Samples of a request that are independent carry K answers' information:
// the interval is about Wilson's over all of them.
func TestClusterRateIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, tt := range []struct {
		requests, k int
		p           float64
	}{{200, 5, 0.3}, {100, 3, 0.5}, {400, 4, 0.1}, {60, 10, 0.2}} {
		var cs []Cluster
		for range tt.requests {
			c := Cluster{N: tt.k}
			for range tt.k {
				if rng.Float64() < tt.p {
					c.K++
				}
			}
			cs = append(cs, c)
		}
		r := ClusterRate(cs)
		theory := Wilson(r.K, r.N)
		if got := width(r.CI) / width(theory); math.Abs(got-1) > 0.2 {
			t.Errorf("%d requests x %d independent samples at %.1f: width %.4f, want within 20%% of Wilson over %d answers (%.4f); design effect %.2f",
				tt.requests, tt.k, tt.p, width(r.CI), r.N, width(theory), r.DesignEffect)
		}
	}
}

// A reference computed outside Go, with unequal numbers of samples per
// request, in plain Python 3.11 (no packages):
//
//	from math import sqrt
//	z = 1.959963984540054  # qnorm(0.975)
//	def wilson(p, n):
//	    z2 = z * z
//	    denom = 1 + z2 / n
//	    center = (p + z2 / (2 * n)) / denom
//	    half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
//	    return center - half, center + half
//	clusters = [(3, 5), (0, 4), (5, 5), (1, 3), (2, 6), (0, 5), (4, 4), (1, 2), (0, 3), (2, 5)]
//	K = sum(k for k, n in clusters); N = sum(n for k, n in clusters); m = len(clusters)
//	p = K / N
//	vcl = m / (m - 1) * sum((k - p * n) ** 2 for k, n in clusters) / N ** 2
//	vsrs = p * (1 - p) / N
//	deff = min(max(vcl / vsrs, 1), N / m)
//	neff = N / deff
//	lo, hi = wilson(p, neff)
//	print(K, N, m, repr(p), repr(deff), repr(neff), repr(lo), repr(hi))
//
// prints
//
//	18 42 10 0.42857142857142855 2.566137566137566 16.367010309278353 0.22596107667788481 0.6583377133561877
//
// vcl is the with-replacement linearised variance of a ratio of cluster
// totals, which R's survey package gives for svymean(~y, svydesign(ids =
// ~request, data = d)); R is not installed here, so the check is against
// the formula written out independently.
func TestClusterRateReference(t *testing.T) {
	cs := []Cluster{{3, 5}, {0, 4}, {5, 5}, {1, 3}, {2, 6}, {0, 5}, {4, 4}, {1, 2}, {0, 3}, {2, 5}}
	r := ClusterRate(cs)
	if r.K != 18 || r.N != 42 || r.Requests != 10 || r.Assumed {
		t.Errorf("counts %d/%d over %d requests (assumed %v), want 18/42 over 10", r.K, r.N, r.Requests, r.Assumed)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"rate", r.Value, 0.42857142857142855},
		{"design effect", r.DesignEffect, 2.566137566137566},
		{"effective n", r.EffectiveN, 16.367010309278353},
		{"lower", r.CI.Lo, 0.22596107667788481},
		{"upper", r.CI.Hi, 0.6583377133561877},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %.17g, want %.17g", c.name, c.got, c.want)
		}
	}
}

func TestClusterRateNothingToEstimate(t *testing.T) {
	tests := []struct {
		name string
		cs   []Cluster
		want Interval
	}{
		// Every answer refused: no variation, so the samples of a request
		// are taken to agree, and the interval is that of 8 requests.
		{"all zero", []Cluster{{0, 5}, {0, 5}, {0, 5}, {0, 5}, {0, 5}, {0, 5}, {0, 5}, {0, 5}}, Wilson(0, 8)},
		{"all one", []Cluster{{3, 3}, {3, 3}, {3, 3}}, Wilson(3, 3)},
		{"one request", []Cluster{{2, 4}}, wilsonAt(0.5, 1, false, false)},
	}
	for _, tt := range tests {
		r := ClusterRate(tt.cs)
		if !r.Assumed || math.Abs(r.CI.Lo-tt.want.Lo) > 1e-12 || math.Abs(r.CI.Hi-tt.want.Hi) > 1e-12 {
			t.Errorf("%s: ClusterRate = %+v, want the assumed interval %+v", tt.name, r, tt.want)
		}
	}
}

func TestRequestsForPowerAt(t *testing.T) {
	for _, pp := range [][2]float64{{0.5, 0.3}, {0.12, 0.05}, {0.6, 0.1}, {0.2, 0.15}} {
		if got, want := RequestsForPowerAt(pp[0], pp[1], 1, 1), RequestsForPower(pp[0], pp[1]); got != want {
			t.Errorf("RequestsForPowerAt(%g, %g, 1, 1) = %d, want RequestsForPower's %d", pp[0], pp[1], got, want)
		}
		// K independent samples per request: about a K-th of the requests.
		for _, k := range []float64{2, 5, 10} {
			got, one := float64(RequestsForPowerAt(pp[0], pp[1], k, k)), float64(RequestsForPower(pp[0], pp[1]))
			if math.Abs(got-one/k) > 1 {
				t.Errorf("RequestsForPowerAt(%g, %g, %g, %g) = %g, want about %g / %g", pp[0], pp[1], k, k, got, one, k)
			}
		}
	}
	// The closed form, computed in plain Python 3.11, for p1 = 0.5,
	// p2 = 0.3, e1 = 2, e2 = 4: pbar = 0.4,
	// (1.959964*sqrt(0.24*0.75) + 0.841621*sqrt(0.25/2 + 0.21/4))^2 / 0.04
	// = (0.831542 + 0.354581)^2 / 0.04 = 35.172231221716714, so 36 requests.
	if got := RequestsForPowerAt(0.5, 0.3, 2, 4); got != 36 {
		t.Errorf("RequestsForPowerAt(0.5, 0.3, 2, 4) = %d, want 36", got)
	}
}
