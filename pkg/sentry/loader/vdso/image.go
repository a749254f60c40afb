package vdso

import (
	"debug/elf"
	"errors"
	"runtime"
	"sync"
)

// ErrNoImage is returned on architectures without a vDSO image.
var ErrNoImage = errors.New("vdso: no vDSO image for " + runtime.GOARCH)

// Version is the symbol version of every function, as Linux's x86-64 vDSO.
const Version = "LINUX_2.6"

var buildOnce = sync.OnceValue(func() []byte { return buildImage(elf.EM_X86_64, Version, assembleX86) })

// Image returns the vDSO image for the host architecture, the ELF shared
// object to map right after the vvar page. The slice is shared: do not
// modify it.
func Image() ([]byte, error) {
	if runtime.GOARCH != "amd64" {
		return nil, ErrNoImage
	}
	return buildOnce(), nil
}
