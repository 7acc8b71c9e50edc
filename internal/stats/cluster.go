package stats

// Answers to the same request are not independent: a request a model finds
// easy to refuse is refused again and again, so K answers to it carry less
// than K independent answers' worth of information. Rates over several
// samples per request therefore get intervals at the level of requests.

// Names of the methods behind a rate's interval (Rate.Method).
const (
	// MethodWilson is Wilson's score interval over the answers, used when
	// every request has at most one answer in the condition.
	MethodWilson = "wilson"
	// MethodWilsonDesignEffect is Wilson's score interval over the
	// effective number of answers, n divided by the design effect of the
	// requests (see ClusterRate).
	MethodWilsonDesignEffect = "wilson-design-effect"
)

// Cluster is one request's answers in one condition: K of its N answered
// samples have the property counted (complied, say).
type Cluster struct {
	K, N int
}

// Rate is a proportion over answers grouped in requests, with its 95%
// interval and what the grouping costs.
type Rate struct {
	// K of N answers have the property, from Requests requests with at
	// least one answer; Value is K / N.
	K, N, Requests int
	Value          float64
	CI             Interval
	// Method is MethodWilson or MethodWilsonDesignEffect.
	Method string
	// DesignEffect is how many times larger the variance of Value is than
	// that of N independent answers, and EffectiveN = N / DesignEffect the
	// number of independent answers as informative as these. With one
	// answer per request they are 1 and N.
	DesignEffect, EffectiveN float64
	// Assumed is set when the design effect could not be estimated, every
	// answer having the same value (or all coming from one request), and
	// was taken as the mean number of answers per request: as if the
	// answers to a request always agreed, the cautious reading.
	Assumed bool
}

// ClusterRate returns the pooled rate sum(K) / sum(N) of clusters with its
// 95% interval. With at most one answer per request it is Wilson(K, N).
// With several, the interval is Wilson's score interval evaluated at the
// effective number of answers N / deff, where deff, the design effect
// (Kish, Survey Sampling, 1965), is the variance of the ratio estimator
// with requests as clusters over the variance of N independent answers:
//
//	v_cluster = m/(m-1) * sum_i (K_i - p*N_i)^2 / N^2
//	v_srs     = p*(1-p) / N
//	deff      = v_cluster / v_srs, kept within [1, N/m]
//
// over the m requests with an answer. v_cluster is the usual linearised
// (with-replacement) variance of a ratio of cluster totals (Cochran,
// Sampling Techniques, 3rd ed., 1977, ch. 6 and 9A), the variance that
// R's survey package gives svymean with the requests as ids. Evaluating an interval for a
// proportion at the effective sample size is Korn and Graubard's approach
// (Survey Methodology 24(2), 1998, 193-201), here with Wilson's interval
// so that the method reduces to the one-sample case. deff is kept at least
// 1, so that the interval is never narrower than N independent answers
// give, and at most the mean number of answers per request, its value when
// every request's answers agree, so that it is never wider than the
// requests alone give. When p is 0 or 1, or m < 2, the data hold no
// variation to estimate deff from, and it is taken as N/m (Assumed).
func ClusterRate(cs []Cluster) Rate {
	r := Rate{Method: MethodWilson, DesignEffect: 1}
	several := false
	for _, c := range cs {
		if c.N < 0 || c.K < 0 || c.K > c.N {
			panic("stats.ClusterRate: invalid counts")
		}
		if c.N == 0 {
			continue
		}
		r.K, r.N, r.Requests = r.K+c.K, r.N+c.N, r.Requests+1
		several = several || c.N > 1
	}
	r.EffectiveN = float64(r.N)
	if r.N == 0 {
		r.CI = Wilson(0, 0)
		return r
	}
	r.Value = float64(r.K) / float64(r.N)
	if !several {
		r.CI = Wilson(r.K, r.N)
		return r
	}
	r.Method = MethodWilsonDesignEffect
	n, m, p := float64(r.N), float64(r.Requests), r.Value
	perRequest := n / m
	if r.Requests < 2 || r.K == 0 || r.K == r.N {
		r.DesignEffect, r.Assumed = perRequest, true
	} else {
		var ss float64
		for _, c := range cs {
			if c.N > 0 {
				d := float64(c.K) - p*float64(c.N)
				ss += d * d
			}
		}
		vCluster := m / (m - 1) * ss / (n * n)
		vSRS := p * (1 - p) / n
		r.DesignEffect = min(max(vCluster/vSRS, 1), perRequest)
	}
	r.EffectiveN = n / r.DesignEffect
	r.CI = wilsonAt(p, r.EffectiveN, r.K == 0, r.K == r.N)
	return r
}
