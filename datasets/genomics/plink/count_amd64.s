#include "textflag.h"

// func countWordsPOPCNT(p *uint64, m *uint64, n int) (lo, hi, both int)
// Sums, over n words w (and mask words k when m != nil, else the constant
// 0x5555…), popcount(w&k), popcount((w>>1)&k) and popcount(w&(w>>1)&k).
TEXT ·countWordsPOPCNT(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ m+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ $0x5555555555555555, R8
	XORQ AX, AX
	XORQ BX, BX
	XORQ DX, DX
	TESTQ CX, CX
	JZ done
	TESTQ DI, DI
	JNZ masked

loop:
	MOVQ (SI), R9
	MOVQ R9, R10
	SHRQ $1, R10
	ANDQ R8, R9
	ANDQ R8, R10
	POPCNTQ R9, R11
	POPCNTQ R10, R12
	ANDQ R9, R10
	POPCNTQ R10, R13
	ADDQ R11, AX
	ADDQ R12, BX
	ADDQ R13, DX
	ADDQ $8, SI
	DECQ CX
	JNZ loop
	JMP done

masked:
	MOVQ (SI), R9
	MOVQ (DI), R14
	MOVQ R9, R10
	SHRQ $1, R10
	ANDQ R14, R9
	ANDQ R14, R10
	POPCNTQ R9, R11
	POPCNTQ R10, R12
	ANDQ R9, R10
	POPCNTQ R10, R13
	ADDQ R11, AX
	ADDQ R12, BX
	ADDQ R13, DX
	ADDQ $8, SI
	ADDQ $8, DI
	DECQ CX
	JNZ masked

done:
	MOVQ AX, lo+24(FP)
	MOVQ BX, hi+32(FP)
	MOVQ DX, both+40(FP)
	RET
