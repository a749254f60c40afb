package mm

import "appkernel.dev/appkernel/pkg/abi/linux"

func map32Bit(flags int) bool { return flags&linux.MAP_32BIT != 0 }
