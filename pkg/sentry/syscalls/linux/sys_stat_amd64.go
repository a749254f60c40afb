package linux

import abilinux "appkernel.dev/appkernel/pkg/abi/linux"

// setStatArchFields fills the struct stat fields whose width is
// per-architecture (amd64's are longs).
func setStatArchFields(st *abilinux.Stat, nlink, blksize uint32) {
	st.Nlink = uint64(nlink)
	st.Blksize = int64(blksize)
}
