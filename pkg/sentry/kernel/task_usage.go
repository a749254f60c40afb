package kernel

// accountMaxRSS records the address space's resident high-water mark, at
// exit, for ru_maxrss.
func (t *Task) accountMaxRSS() {
	if rss := int64(t.mm.MaxResidentSize() / 1024); rss > t.usage.MaxRSS {
		t.usage.MaxRSS = rss
	}
}
