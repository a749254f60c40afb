package vdso

// readTSC reads the time stamp counter, ordered after earlier loads.
//
//go:noescape
func readTSC() uint64
