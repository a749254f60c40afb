package bench

import "sort"

// Median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none. The median, not the mean, because on a shared VM a
// single descheduled run can be many times slower than the rest.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
