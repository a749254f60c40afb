package log

// SetLevel makes every output write messages up to level l, for `runsc
// debug --log-level` on a running sandbox. Outputs keep their writers
// and formats.
func SetLevel(l Level) {
	mu.Lock()
	defer mu.Unlock()
	next := make([]Output, len(outputs))
	for i, o := range outputs {
		o.Level = l
		next[i] = o
	}
	outputs = next
}

// ParseLevel returns the level named s ("warning", "info" or "debug").
func ParseLevel(s string) (Level, bool) {
	for _, l := range []Level{Warning, Info, Debug} {
		if l.String() == s {
			return l, true
		}
	}
	return 0, false
}
