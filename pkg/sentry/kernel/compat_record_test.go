package kernel

import "testing"

func TestMappingAt(t *testing.T) {
	maps := []byte("00400000-00401000 r--p 00000000 00:00 0 \n" +
		"00401000-00585000 r-xp 00001000 08:01 1234                               /usr/bin/my prog\n" +
		"7ffaf7ffe000-7ffaf7fff000 r--s 00000000 00:00 0                          [vvar]\n")
	for _, c := range []struct {
		addr uint64
		name string
		off  uint64
		ok   bool
	}{
		{0x400010, "", 0x10, true},
		{0x401234, "/usr/bin/my prog", 0x1234, true},
		{0x7ffaf7ffe008, "[vvar]", 8, true},
		{0x585000, "", 0, false}, // end is exclusive
		{0x1000, "", 0, false},
	} {
		m, ok := mappingAt(maps, c.addr)
		if ok != c.ok || (ok && (m.name != c.name || c.addr-m.start+m.off != c.off)) {
			t.Errorf("mappingAt(%#x) = %+v, %v; want %q +%#x, %v", c.addr, m, ok, c.name, c.off, c.ok)
		}
	}
}

func TestIsTTYMajor(t *testing.T) {
	for major, want := range map[uint32]bool{1: false, 4: true, 5: true, 136: true, 143: true, 144: false} {
		if isTTYMajor(major) != want {
			t.Errorf("isTTYMajor(%d) = %v", major, !want)
		}
	}
}
