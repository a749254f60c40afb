package linux

import abilinux "appkernel.dev/appkernel/pkg/abi/linux"

// setStatArchFields fills the struct stat fields whose width is
// per-architecture (arm64's are ints).
func setStatArchFields(st *abilinux.Stat, nlink, blksize uint32) {
	st.Nlink = nlink
	st.Blksize = int32(blksize)
}
