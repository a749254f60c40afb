#include "textflag.h"

// func TSCAux() uint32
TEXT ·TSCAux(SB),NOSPLIT,$0-4
	BYTE $0x0f; BYTE $0x01; BYTE $0xf9 // RDTSCP
	MOVL CX, ret+0(FP)
	RET
