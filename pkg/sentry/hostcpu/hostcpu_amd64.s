#include "textflag.h"

// func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB),NOSPLIT,$0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func tscAux() uint32
TEXT ·tscAux(SB),NOSPLIT,$0-4
	BYTE $0x0f; BYTE $0x01; BYTE $0xf9 // RDTSCP
	MOVL CX, ret+0(FP)
	RET
