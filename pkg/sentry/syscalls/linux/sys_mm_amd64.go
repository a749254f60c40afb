package linux

import abilinux "appkernel.dev/appkernel/pkg/abi/linux"

// archMapFlags are the mmap flags only this architecture has.
const archMapFlags = abilinux.MAP_32BIT
