package qc

import "math"

// The Hardy–Weinberg exact tests below are ports of plink2's HweP and
// HweXchrP (Wigginton, Cutler & Abecasis 2005 with Christopher Chang's
// underflow-aware summation and mid-p option; Graffelman & Weir 2016 for
// chrX), kept operation for operation so that p-values agree with plink2
// to the last printed digit. plink2 licenses these two routines under GPL 2+.

const (
	smallEpsilon      = 0.00000000000005684341886080801486968994140625 // 2^-44
	exactTestBias     = 0.00000000000000000000000010339757656912845935892608650874535669572651386260986328125
	exactTestEpsilon2 = 0.0000000000009094947017729282379150390625 // 2^-40
)

// HweP is the exact Hardy–Weinberg test p-value for a biallelic variant
// with the given heterozygote and homozygote counts; midp selects the
// mid-p variant (Graffelman & Moreno 2013).
func HweP(obsHets, obsHom1, obsHom2 int, midp bool) float64 {
	obsHomc, obsHomr := obsHom1, obsHom2
	if obsHom1 < obsHom2 {
		obsHomc, obsHomr = obsHom2, obsHom1
	}
	rareCopies := int64(2*obsHomr + obsHets)
	genotypes2 := int64(obsHets+obsHomc+obsHomr) * 2
	if genotypes2 == 0 {
		if midp {
			return 0.5
		}
		return 1
	}
	tieCt := 1
	currHetsT2 := float64(obsHets)
	currHomrT2 := float64(obsHomr)
	currHomcT2 := float64(obsHomc)
	tailp := (1 - smallEpsilon) * exactTestBias
	centerp := 0.0
	lastp2 := tailp
	lastp1 := tailp
	if int64(obsHets)*genotypes2 > rareCopies*(genotypes2-rareCopies) {
		// tail 1 = upper
		for currHetsT2 > 1.5 {
			currHomrT2++
			currHomcT2++
			lastp2 *= (currHetsT2 * (currHetsT2 - 1)) / (4 * currHomrT2 * currHomcT2)
			currHetsT2 -= 2
			if lastp2 < exactTestBias {
				if lastp2 > (1-2*smallEpsilon)*exactTestBias {
					tieCt++
				}
				tailp += lastp2
				break
			}
			centerp += lastp2
			if centerp > math.MaxFloat64 {
				return 0
			}
		}
		if centerp == 0 && !midp {
			return 1
		}
		for currHetsT2 > 1.5 {
			currHomrT2++
			currHomcT2++
			lastp2 *= (currHetsT2 * (currHetsT2 - 1)) / (4 * currHomrT2 * currHomcT2)
			currHetsT2 -= 2
			pre := tailp
			tailp += lastp2
			if tailp <= pre {
				break
			}
		}
		currHetsT1 := float64(obsHets) + 2
		currHomrT1 := float64(obsHomr)
		currHomcT1 := float64(obsHomc)
		for currHomrT1 > 0.5 {
			lastp1 *= (4 * currHomrT1 * currHomcT1) / (currHetsT1 * (currHetsT1 - 1))
			pre := tailp
			tailp += lastp1
			if tailp <= pre {
				break
			}
			currHetsT1 += 2
			currHomrT1--
			currHomcT1--
		}
	} else {
		// tail 1 = lower
		for currHomrT2 > 0.5 {
			currHetsT2 += 2
			lastp2 *= (4 * currHomrT2 * currHomcT2) / (currHetsT2 * (currHetsT2 - 1))
			currHomrT2--
			currHomcT2--
			if lastp2 < exactTestBias {
				if lastp2 > (1-2*smallEpsilon)*exactTestBias {
					tieCt++
				}
				tailp += lastp2
				break
			}
			centerp += lastp2
			if centerp > math.MaxFloat64 {
				return 0
			}
		}
		if centerp == 0 && !midp {
			return 1
		}
		for currHomrT2 > 0.5 {
			currHetsT2 += 2
			lastp2 *= (4 * currHomrT2 * currHomcT2) / (currHetsT2 * (currHetsT2 - 1))
			currHomrT2--
			currHomcT2--
			pre := tailp
			tailp += lastp2
			if tailp <= pre {
				break
			}
		}
		currHetsT1 := float64(obsHets)
		currHomrT1 := float64(obsHomr)
		currHomcT1 := float64(obsHomc)
		for currHetsT1 > 1.5 {
			currHomrT1++
			currHomcT1++
			lastp1 *= (currHetsT1 * (currHetsT1 - 1)) / (4 * currHomrT1 * currHomcT1)
			pre := tailp
			tailp += lastp1
			if tailp <= pre {
				break
			}
			currHetsT1 -= 2
		}
	}
	if !midp {
		return tailp / (tailp + centerp)
	}
	return (tailp - ((1-smallEpsilon)*exactTestBias*0.5)*float64(tieCt)) / (tailp + centerp)
}

// hweXchrTailsum is plink2's HweXchrPTailsum.
func hweXchrTailsum(highHetSide bool, baseProbp, savedHetsp, savedHom1p, savedHom2p *float64, tieCtp *int, totalp *float64) bool {
	total := 0.0
	curProb := *baseProbp
	tmpHets := *savedHetsp
	tmpHom1 := *savedHom1p
	tmpHom2 := *savedHom2p
	var tmpsHets, tmpsHom1, tmpsHom2 float64
	if highHetSide {
		if curProb > exactTestBias {
			prevProb := tmpHom1 * tmpHom2
			for prevProb > 0.5 {
				tmpHets += 2
				curProb *= (4 * prevProb) / (tmpHets * (tmpHets - 1))
				tmpHom1--
				tmpHom2--
				if curProb <= exactTestBias {
					break
				}
				prevProb = tmpHom1 * tmpHom2
			}
			*baseProbp = curProb
			tmpsHets, tmpsHom1, tmpsHom2 = tmpHets, tmpHom1, tmpHom2
		} else {
			tmpsHets, tmpsHom1, tmpsHom2 = tmpHets, tmpHom1, tmpHom2
			for {
				prevProb := curProb
				tmpHom1++
				tmpHom2++
				curProb *= (tmpHets * (tmpHets - 1)) / (4 * tmpHom1 * tmpHom2)
				if curProb < prevProb {
					return true
				}
				tmpHets -= 2
				if curProb > (1-2*exactTestEpsilon2)*exactTestBias {
					if curProb > (1-smallEpsilon)*exactTestBias {
						break
					}
					*tieCtp++
				}
				total += curProb
			}
			prevProb := curProb
			curProb = *baseProbp
			*baseProbp = prevProb
		}
	} else {
		if curProb > exactTestBias {
			for tmpHets > 1.5 {
				tmpHom1++
				tmpHom2++
				curProb *= (tmpHets * (tmpHets - 1)) / (4 * tmpHom1 * tmpHom2)
				tmpHets -= 2
				if curProb <= exactTestBias {
					break
				}
			}
			*baseProbp = curProb
			tmpsHets, tmpsHom1, tmpsHom2 = tmpHets, tmpHom1, tmpHom2
		} else {
			tmpsHets, tmpsHom1, tmpsHom2 = tmpHets, tmpHom1, tmpHom2
			for {
				prevProb := curProb
				tmpHets += 2
				curProb *= (4 * tmpHom1 * tmpHom2) / (tmpHets * (tmpHets - 1))
				if curProb < prevProb {
					return true
				}
				tmpHom1--
				tmpHom2--
				if curProb > (1-2*exactTestEpsilon2)*exactTestBias {
					if curProb > exactTestBias {
						break
					}
					*tieCtp++
				}
				total += curProb
			}
			prevProb := curProb
			curProb = *baseProbp
			*baseProbp = prevProb
		}
	}
	*savedHetsp, *savedHom1p, *savedHom2p = tmpHets, tmpHom1, tmpHom2
	if curProb > (1-2*exactTestEpsilon2)*exactTestBias {
		if curProb > exactTestBias {
			*totalp = 0
			return false
		}
		*tieCtp++
	}
	if highHetSide {
		for {
			prev := total
			total += curProb
			if total <= prev {
				break
			}
			tmpsHets += 2
			curProb *= (4 * tmpsHom1 * tmpsHom2) / (tmpsHets * (tmpsHets - 1))
			tmpsHom1--
			tmpsHom2--
		}
	} else {
		for {
			prev := total
			total += curProb
			if total <= prev {
				break
			}
			tmpsHom1++
			tmpsHom2++
			curProb *= (tmpsHets * (tmpsHets - 1)) / (4 * tmpsHom1 * tmpsHom2)
			tmpsHets -= 2
		}
	}
	*totalp = total
	return false
}

// hweFirstRow is plink2's HweFirstRow; it reports true when p is 0.
type firstRow struct {
	tailp, centerp                           float64
	tieCt                                    int
	baseProbl, baseProbr                     float64
	lhets, lhoma, lhomb, rhets, rhoma, rhomb float64
}

func hweFirstRow(hetab, homa, homb float64, fr *firstRow) bool {
	curProb := (1 - exactTestEpsilon2) * exactTestBias
	tailp := curProb
	centerp := 0.0
	tieCt := 1
	tmpHets := hetab
	if hetab*hetab > 4*homa*homb {
		fr.baseProbr = curProb
		fr.rhets, fr.rhoma, fr.rhomb = hetab, homa, homb
		tmpHoma, tmpHomb := homa, homb
		for tmpHets > 1.5 {
			tmpHoma++
			tmpHomb++
			curProb *= (tmpHets * (tmpHets - 1)) / (4 * tmpHoma * tmpHomb)
			tmpHets -= 2
			if curProb < exactTestBias {
				if curProb > (1-2*exactTestEpsilon2)*exactTestBias {
					tieCt++
				}
				tailp += curProb
				break
			}
			centerp += curProb
			if centerp > math.MaxFloat64 {
				return true
			}
		}
		fr.lhets, fr.lhoma, fr.lhomb = tmpHets, tmpHoma, tmpHomb
		fr.baseProbl = curProb
		for tmpHets > 1.5 {
			tmpHoma++
			tmpHomb++
			curProb *= (tmpHets * (tmpHets - 1)) / (4 * tmpHoma * tmpHomb)
			tmpHets -= 2
			pre := tailp
			tailp += curProb
			if tailp <= pre {
				break
			}
		}
		tmpHets, tmpHoma, tmpHomb = hetab, homa, homb
		curProb = fr.baseProbr
		for {
			tmpHets += 2
			curProb *= (4 * tmpHoma * tmpHomb) / (tmpHets * (tmpHets - 1))
			pre := tailp
			tailp += curProb
			if tailp <= pre {
				break
			}
			tmpHoma--
			tmpHomb--
		}
	} else {
		fr.baseProbl = curProb
		fr.lhets, fr.lhoma, fr.lhomb = hetab, homa, homb
		tmpHoma, tmpHomb := homa, homb
		var quarterNumer float64
		for {
			quarterNumer = tmpHoma * tmpHomb
			if quarterNumer <= 0.5 {
				break
			}
			tmpHets += 2
			curProb *= (4 * quarterNumer) / (tmpHets * (tmpHets - 1))
			tmpHoma--
			tmpHomb--
			if curProb < exactTestBias {
				// plink2 writes this bound as (1 - (2ε)·bias), which is
				// always true; kept for identical tie counts.
				if curProb > (1 - (2*exactTestEpsilon2)*exactTestBias) {
					tieCt++
				}
				tailp += curProb
				quarterNumer = tmpHoma * tmpHomb
				break
			}
			centerp += curProb
			if centerp > math.MaxFloat64 {
				return true
			}
		}
		fr.rhets, fr.rhoma, fr.rhomb = tmpHets, tmpHoma, tmpHomb
		fr.baseProbr = curProb
		for quarterNumer > 0.5 {
			tmpHets += 2
			curProb *= (4 * quarterNumer) / (tmpHets * (tmpHets - 1))
			tmpHoma--
			tmpHomb--
			pre := tailp
			tailp += curProb
			if tailp <= pre {
				break
			}
			quarterNumer = tmpHoma * tmpHomb
		}
		tmpHets, tmpHoma, tmpHomb = hetab, homa, homb
		curProb = fr.baseProbl
		for tmpHets > 1.5 {
			tmpHoma++
			tmpHomb++
			curProb *= (tmpHets * (tmpHets - 1)) / (4 * tmpHoma * tmpHomb)
			pre := tailp
			tailp += curProb
			if tailp <= pre {
				break
			}
			tmpHets -= 2
		}
	}
	fr.tailp, fr.centerp, fr.tieCt = tailp, centerp, tieCt
	return false
}

// HweXchrP is the exact Hardy–Weinberg test for a chrX variant jointly over
// female genotypes and male allele counts (Graffelman & Weir 2016), as
// plink2 computes it. male1/male2 are hemizygous males carrying allele 1/2.
func HweXchrP(femaleHets, femaleHom1, femaleHom2, male1, male2 int, midp bool) float64 {
	if male1 == 0 && male2 == 0 {
		return HweP(femaleHets, femaleHom1, femaleHom2, midp)
	}
	curFemaleHetd := float64(femaleHets)
	curFemaleHom1d := float64(femaleHom1)
	curFemaleHom2d := float64(femaleHom2)
	n1 := curFemaleHetd + 2*curFemaleHom1d
	n2 := curFemaleHetd + 2*curFemaleHom2d
	var fr firstRow
	if hweFirstRow(curFemaleHetd, curFemaleHom1d, curFemaleHom2d, &fr) {
		return 0
	}
	tailp, centerp, tieCt := fr.tailp, fr.centerp, fr.tieCt
	origRowProb := tailp + centerp
	n1 += float64(male1)
	n2 += float64(male2)
	for male1Decreasing := 0; male1Decreasing != 2; male1Decreasing++ {
		curMale1 := float64(male1)
		curMale2 := float64(male2)
		rowProb := origRowProb
		curLhets, curLhom1, curLhom2 := fr.lhets, fr.lhoma, fr.lhomb
		curRhets, curRhom1, curRhom2 := fr.rhets, fr.rhoma, fr.rhomb
		baseProbl, baseProbr := fr.baseProbl, fr.baseProbr
		var iterCt int
		if male1Decreasing == 1 {
			iterCt = 2*femaleHom2 + femaleHets
			if iterCt > male1 {
				iterCt = male1
			}
		} else {
			iterCt = 2*femaleHom1 + femaleHets
			if iterCt > male2 {
				iterCt = male2
			}
		}
		for iter := 0; iter != iterCt; iter++ {
			if male1Decreasing == 1 {
				oldMale1 := curMale1
				oldFemale2 := n2 - curMale2
				curMale2++
				curMale1--
				rowProb *= (oldMale1 * oldFemale2) / (curMale2 * (n1 - curMale1))
				if curLhets != 0 {
					curLhom1++
					baseProbl *= (oldMale1 * curLhets) / (2 * curMale2 * curLhom1)
					curLhets--
				} else {
					curLhets++
					baseProbl *= (2 * oldMale1 * curLhom2) / (curMale2 * curLhets)
					curLhom2--
				}
			} else {
				oldMale2 := curMale2
				oldFemale1 := n1 - curMale1
				curMale1++
				curMale2--
				rowProb *= (oldMale2 * oldFemale1) / (curMale1 * (n2 - curMale2))
				if curLhets != 0 {
					curLhom2++
					baseProbl *= (oldMale2 * curLhets) / (2 * curMale1 * curLhom2)
					curLhets--
				} else {
					curLhets++
					baseProbl *= (2 * oldMale2 * curLhom1) / (curMale1 * curLhets)
					curLhom1--
				}
			}
			var tailIncr1 float64
			if hweXchrTailsum(false, &baseProbl, &curLhets, &curLhom1, &curLhom2, &tieCt, &tailIncr1) {
				curFemale1 := n1 - curMale1
				curFemale2 := n2 - curMale2
				if male1Decreasing == 1 {
					for {
						pre := tailp
						tailp += rowProb
						if tailp == pre {
							break
						}
						curMale2++
						curFemale1++
						rowProb *= (curMale1 * curFemale2) / (curMale2 * curFemale1)
						curMale1--
						curFemale2--
					}
				} else {
					for {
						pre := tailp
						tailp += rowProb
						if tailp == pre {
							break
						}
						curMale1++
						curFemale2++
						rowProb *= (curMale2 * curFemale1) / (curMale1 * curFemale2)
						curMale2--
						curFemale1--
					}
				}
				break
			}
			tailp += tailIncr1
			if male1Decreasing == 1 {
				oldMale1 := curMale1 + 1
				if curRhom2 != 0 {
					curRhets++
					baseProbr *= (2 * oldMale1 * curRhom2) / (curMale2 * curRhets)
					curRhom2--
				} else {
					curRhom1++
					baseProbr *= (oldMale1 * curRhets) / (2 * curMale2 * curRhom1)
					curRhets--
				}
			} else {
				oldMale2 := curMale2 + 1
				if curRhom1 != 0 {
					curRhets++
					baseProbr *= (2 * oldMale2 * curRhom1) / (curMale1 * curRhets)
					curRhom1--
				} else {
					curRhom2++
					baseProbr *= (oldMale2 * curRhets) / (2 * curMale1 * curRhom2)
					curRhets--
				}
			}
			tailIncr2 := 0.0
			hweXchrTailsum(true, &baseProbr, &curRhets, &curRhom1, &curRhom2, &tieCt, &tailIncr2)
			tailp += tailIncr2
			centerp += rowProb - tailIncr1 - tailIncr2
			if centerp > math.MaxFloat64 {
				return 0
			}
		}
	}
	if !midp {
		return tailp / (tailp + centerp)
	}
	return (tailp - ((1-exactTestEpsilon2)*exactTestBias*0.5)*float64(tieCt)) / (tailp + centerp)
}
