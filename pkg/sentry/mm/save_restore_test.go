package mm

import (
	"bytes"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/mm/mmtest"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/state"
)

func TestSaveRestore(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0x10000000, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED)
	e.write(a+10, []byte("private"))
	f := e.file("/tmpfs/f", []byte("file data"))
	s := e.mmapFile(f, pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0)
	f.DecRef()
	e.mm.HandleFault(s, platform.ReadWrite)
	e.mm.BrkSetup(0x20000000)

	var objs, data bytes.Buffer
	if err := state.Save(&objs, e.mm); err != nil {
		t.Fatal(err)
	}
	if err := e.mf.SaveContents(&data); err != nil {
		t.Fatal(err)
	}

	var r MemoryManager
	if err := state.Load(&objs, &r); err != nil {
		t.Fatal(err)
	}
	defer r.mf.Destroy()
	defer r.Release()
	if err := r.mf.LoadContents(&data); err != nil {
		t.Fatal(err)
	}
	fa := &mmtest.Factory{}
	r.SetAddressSpaceFactory(fa.New)
	if _, err := r.AddressSpace(); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 9)
	if _, err := r.CopyIn(a+10, b[:7]); err != nil || string(b[:7]) != "private" {
		t.Errorf("restored private memory: %q %v", b[:7], err)
	}
	if _, err := r.CopyIn(s, b); err != nil || string(b) != "file data" {
		t.Errorf("restored shared mapping: %q %v", b, err)
	}
	if err := r.HandleFault(s, platform.ReadWrite); err != nil {
		t.Fatal(err)
	}
	if _, ok := fa.Last().Lookup(s); !ok {
		t.Error("fault after restore did not map into the new address space")
	}
	if string(r.Maps()) != string(e.mm.Maps()) {
		t.Errorf("maps differ:\n%s\nvs\n%s", r.Maps(), e.mm.Maps())
	}
	if start, _ := r.BrkRange(); start != 0x20000000 {
		t.Errorf("brk start %#x", start)
	}
}
