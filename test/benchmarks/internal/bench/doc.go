// Package bench is the machinery of the sandbox-versus-native benchmark
// harness in test/benchmarks: it builds the C workloads, launches them
// natively or under `runsc do`, parses the RESULT lines they print, picks
// iteration counts, and renders the side-by-side table.
//
// Nothing here asserts a time: the harness reports numbers and ratios, and
// only a workload that fails natively (a broken benchmark) is an error.
package bench
