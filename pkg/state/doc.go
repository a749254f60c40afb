// Package state saves a graph of kernel objects to a byte stream and
// restores it, so that a sandbox can be checkpointed and later resumed.
//
// # Opting in
//
// A type takes part by implementing [Savable]. Nobody writes those methods by
// hand: a package annotates its types and runs tools/stateify, which writes
// them into a committed <pkg>_state_autogen.go file:
//
//	//go:generate go run appkernel.dev/appkernel/tools/stateify
//
//	// +stateify savable
//	type Task struct {
//		tid   int32
//		mm    *mm.MemoryManager
//		files map[int32]*FileDescription
//		cpu   cpuCache // +state:nosave
//	}
//
//	func (t *Task) beforeSave() { ... } // optional, runs before t is written
//	func (t *Task) afterLoad()  { ... } // optional, runs after the whole graph is read
//
// Then [Save](w, root) writes everything reachable from root, and
// [Load](r, root) fills a zero value of the same type from a stream.
//
// # What is preserved
//
//   - Every scalar kind, strings, arrays, slices (nil and empty stay
//     distinct), maps (nil and empty stay distinct), structs including
//     embedded and unexported fields.
//   - Pointers keep their identity: each distinct pointee is written once
//     as an "object", so shared pointers restore as one object and cycles
//     (a -> b -> a, self loops, loops through maps, slices and interfaces)
//     restore as cycles.
//   - Interfaces hold any type registered with [Register] (the generator
//     registers every savable type), either as a pointer (an object, with
//     identity) or as a value.
//   - Values of types from packages that were not run through the generator
//     (pkg/abi structs, time.Duration, ...) are saved by reflection, provided
//     they are plain data: no pointers, interfaces, channels or functions
//     inside. Save reports the offending type otherwise.
//
// # What is not
//
//   - Pointers into the middle of an object (to a field of a saved struct,
//     or to an element of a saved array) cannot be given identity after a
//     restore, so Save fails with an error naming both types. Pointers into
//     slice backing arrays are not detected: the pointee restores as a
//     separate copy. Two slices sharing one backing array restore as two
//     arrays.
//   - Fields marked +state:nosave are not written; on load they keep the
//     value the destination had, which is the zero value for every object
//     Load allocates (pass Load a zero root).
//   - afterLoad hooks of struct values stored directly in a map or an
//     interface would run on a temporary copy, so Load rejects such streams;
//     store a pointer instead. Hooks of values in slices and arrays are fine.
//   - Map entries are written in key order when the key type is a boolean,
//     number or string kind; other key types are written in Go's iteration
//     order, so such streams are not byte-for-byte reproducible.
//   - beforeSave runs on map values and interface values through a copy, so
//     changes it makes there are written but not kept in memory.
//
// # Stream format, version 1
//
// All integers are unsigned LEB128 varints ("uv") unless stated; signed
// integers are zig-zag encoded first ("sv"). Decoding is driven by the Go
// types of the destination, so values carry no per-value tags except where
// noted.
//
//	stream   = magic version object{N} trailer
//	magic    = "AKSTATE\n"                      8 bytes
//	version  = uv                               currently 1
//	object   = value                            objects 1..N in id order
//	trailer  = uv(N) crc32c                     crc32c: 4 bytes little endian,
//	                                            Castagnoli CRC of every byte before it
//
// Object 1 is the root. Objects are numbered in the order the writer first
// meets a pointer to them, and written in that order, breadth first, so
// every object is referenced before it is written and the reader can
// allocate it (with the Go type of the first reference) before filling it.
//
//	value of type:
//	  bool                  1 byte, 0 or 1
//	  int, int8..int64      sv (the reader range-checks against the width)
//	  uint..uint64, uintptr uv
//	  float32, float64      4 or 8 bytes, IEEE 754 bits, little endian
//	  complex64, 128        real then imaginary, as floats
//	  string                uv(len) bytes
//	  []byte                uv(0) for nil, else uv(len+1) bytes
//	  [N]byte               N bytes
//	  [N]T                  N values
//	  []T                   uv(0) for nil, else uv(len+1) then len values
//	  map[K]V               uv(0) for nil, else uv(len+1) then len (key, value)
//	  *T                    uv(0) for nil, else uv(object id)
//	  struct (savable or    typeref, then each saved field in declaration
//	    by reflection)      order (for savable types the order of StateFields)
//	  savable named type    typeref, then the value of its underlying type
//	  interface             uv(0) for nil; uv(1) typeref value for a value;
//	                        uv(2) typeref uv(object id or 0) for a pointer
//
//	typeref  = uv(id)                           id of a type already defined, or
//	         | uv(next id) string uv(n) string{n}
//	                                            a new type: its name and its
//	                                            saved field names, inline at
//	                                            first use (ids count from 1)
//
// Type names are "<import path>.<Name>". The reader checks every type
// definition against the type it is decoding into, so a stream written
// before a field was added, removed or reordered fails with an error naming
// the type and the field instead of misreading the data.
//
// # Robustness
//
// Load treats its input as untrusted: any malformed, truncated or hostile
// stream yields an error wrapping [ErrCorrupt] (or [ErrTypeMismatch],
// [VersionError], [ErrBadMagic]), never a panic. Allocation is bounded by the
// input actually consumed: lengths are capped ([MaxLength]) and large
// collections are grown as their elements arrive rather than allocated from
// the declared length. Nesting of values is capped at [MaxDepth].
package state
