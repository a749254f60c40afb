package seccomp

import "appkernel.dev/appkernel/pkg/abi/linux"

// NativeArch is the audit architecture token of the machine we run on.
const NativeArch = linux.AUDIT_ARCH_X86_64
