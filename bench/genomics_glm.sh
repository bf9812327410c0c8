#!/usr/bin/env bash
# Association and PCA benchmark: enclave genomics glm/pca vs plink2 vs
# plink1.9 on one `plink1.9 --dummy 10000 100000` fileset, in one run, with
# the same threads. Prints one JSON line per (case, tool) with wall seconds
# and peak RSS (/usr/bin/time -v), then one summary line per case with the
# ratios enclave/plink2 and enclave/plink1.9 and the agreement with plink2
# (max relative difference of ADD rows, or eigenvalues and |r| of PC scores).
#
# Cases: linear QT with 3 covariates; logistic on the .fam case/control
# phenotype without covariates; logistic with 3 continuous covariates;
# PCA (10 PCs: enclave randomized vs plink2 --pca approx; set
# BENCH_PCA_EXACT=1 to add the exact plink2 --pca and plink1.9 --pca, which
# take minutes).
#
# Environment: ENCLAVE (binary, default bin/enclave; build it with
# GOEXPERIMENT=simd for the vectorised logistic passes), THREADS (2),
# BENCH_REPS (best of N runs for the glm cases, default 3; PCA runs once),
# BENCH_DIR (work directory; default a temporary one removed at the end),
# BENCH_SMALL=1 (1000 × 10000, a quick check).
set -euo pipefail

ENCLAVE=${ENCLAVE:-bin/enclave}
THREADS=${THREADS:-2}
REPS=${BENCH_REPS:-3}
REPS_NOW=$REPS
PLINK2=${PLINK2:-plink2}
PLINK19=${PLINK19:-plink1.9}
N=10000 M=100000
if [[ "${BENCH_SMALL:-0}" == 1 ]]; then N=1000 M=10000; fi

for tool in "$ENCLAVE" "$PLINK2" "$PLINK19" /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "{\"bench\":\"genomics_glm\",\"error\":\"$tool not found\"}"; exit 1; }
done
ENCLAVE=$(command -v "$ENCLAVE")
case $ENCLAVE in /*) ;; *) ENCLAVE=$PWD/$ENCLAVE ;; esac

if [[ -n "${BENCH_DIR:-}" ]]; then
  WORK=$BENCH_DIR; mkdir -p "$WORK"
else
  WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fi
cd "$WORK"

if [[ ! -f d.bed || $(wc -l < d.fam) != "$N" ]]; then
  "$PLINK19" --dummy "$N" "$M" --make-bed --out d >/dev/null
fi
# Phenotypes (QT normal, BT case/control) and covariates (AGE10 = age in
# decades centred at 50, SEX 0/1, PC1 normal), deterministic.
awk 'BEGIN{srand(7); print "FID IID QT BT" > "pheno.txt"; print "FID IID AGE10 SEX PC1" > "covar.txt"}
  function gauss() { return sqrt(-2*log(1-rand()))*cos(6.283185307179586*rand()) }
  { age = int(20 + 60*rand()); printf "%s %s %.5f %d\n", $1, $2, gauss(), 1 + int(2*rand()) >> "pheno.txt";
    printf "%s %s %.1f %d %.5f\n", $1, $2, (age-50)/10, int(2*rand()), gauss() >> "covar.txt" }' d.fam

# run CASE TOOL cmd... : times one command REPS times (best wall time, with
# its user CPU seconds and peak RSS), prints its JSON line and records the
# seconds in SECS[CASE/TOOL].
declare -A SECS
run() {
  local case=$1 tool=$2; shift 2
  local best="" user="" rss="" rep
  for ((rep = 0; rep < REPS_NOW; rep++)); do
    if ! /usr/bin/time -v -o time.txt "$@" >run.log 2>&1; then
      echo "{\"bench\":\"genomics_glm\",\"case\":\"$case\",\"tool\":\"$tool\",\"error\":\"exit $(tail -1 run.log | tr -d '"')\"}"
      return
    fi
    local wall u r
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' time.txt)
    u=$(awk -F': ' '/User time \(seconds\)/{print $2}' time.txt)
    r=$(awk -F': ' '/Maximum resident set size/{print $2}' time.txt)
    if [[ -z $best ]] || awk -v a="$wall" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$wall user=$u rss=$r; fi
  done
  SECS[$case/$tool]=$best
  echo "{\"bench\":\"genomics_glm\",\"case\":\"$case\",\"tool\":\"$tool\",\"n\":$N,\"m\":$M,\"threads\":$THREADS,\"reps\":$REPS_NOW,\"seconds\":$best,\"user_seconds\":$user,\"peak_rss_kb\":$rss}"
}

ratio() { awk -v a="${SECS[$1/enclave]:-}" -v b="${SECS[$1/$2]:-}" 'BEGIN{ if (a=="" || b=="" || b==0) print "null"; else printf "%.3f", a/b }'; }

# maxrel OURS REF: max relative difference over non-Firth ADD rows with a
# result, of OR/BETA and SE (plink2 prints 6 significant digits).
maxrel() {
  awk -F'\t' 'FNR==1 { f++; for (i=1;i<=NF;i++) col[f,$i]=i; next }
    { b = col[f,"BETA"] ? col[f,"BETA"] : col[f,"OR"]; se = col[f,"SE"] ? col[f,"SE"] : col[f,"LOG(OR)_SE"]; t = col[f,"TEST"]; fi = col[f,"FIRTH?"] }
    $t != "ADD" { next }
    f==1 { r1[$3]=$b; r2[$3]=$se; fy[$3]=(fi ? $fi : "N"); next }
    { if (!($3 in r1) || fy[$3]=="Y" || r1[$3]=="NA" || $b=="NA") next
      d=($b-r1[$3])/r1[$3]; if (d<0) d=-d; if (d>mx) mx=d
      d=($se-r2[$3])/r2[$3]; if (d<0) d=-d; if (d>mx) mx=d; n++ }
    END { printf "{\"add_rows\":%d,\"max_rel_diff\":%.3g}", n, mx }' "$2" "$1"
}

summary() {
  local case=$1 acc=$2
  echo "{\"bench\":\"genomics_glm\",\"case\":\"$case\",\"summary\":true,\"enclave_over_plink2\":$(ratio "$case" plink2),\"enclave_over_plink19\":$(ratio "$case" plink1.9),\"agreement_with_plink2\":$acc}"
}

T=$THREADS
# Linear, 3 covariates.
run linear_cov3 enclave "$ENCLAVE" genomics glm --bfile d --pheno pheno.txt --pheno-name QT --covar covar.txt --threads "$T" --out e
run linear_cov3 plink2 "$PLINK2" --bfile d --pheno pheno.txt --pheno-name QT --covar covar.txt --glm --threads "$T" --out p2
run linear_cov3 plink1.9 "$PLINK19" --bfile d --pheno pheno.txt --pheno-name QT --covar covar.txt --linear --allow-no-sex --threads "$T" --out p1
summary linear_cov3 "$(maxrel e.QT.glm.linear p2.QT.glm.linear)"

# Logistic, .fam phenotype, no covariates (collapsed cells).
run logistic_nocov enclave "$ENCLAVE" genomics glm --bfile d --threads "$T" --out e
run logistic_nocov plink2 "$PLINK2" --bfile d --glm allow-no-covars --threads "$T" --out p2
run logistic_nocov plink1.9 "$PLINK19" --bfile d --logistic --allow-no-sex --threads "$T" --out p1
summary logistic_nocov "$(maxrel e.PHENO1.glm.logistic.hybrid p2.PHENO1.glm.logistic.hybrid)"

# Logistic, 3 continuous covariates (dense IRLS).
run logistic_cov3 enclave "$ENCLAVE" genomics glm --bfile d --pheno pheno.txt --pheno-name BT --covar covar.txt --threads "$T" --out e
run logistic_cov3 plink2 "$PLINK2" --bfile d --pheno pheno.txt --pheno-name BT --covar covar.txt --glm --threads "$T" --out p2
run logistic_cov3 plink1.9 "$PLINK19" --bfile d --pheno pheno.txt --pheno-name BT --covar covar.txt --logistic --allow-no-sex --threads "$T" --out p1
summary logistic_cov3 "$(maxrel e.BT.glm.logistic.hybrid p2.BT.glm.logistic.hybrid)"

# PCA, 10 PCs (one run each: plink2 takes minutes).
REPS_NOW=1
pcacmp() { # OURS REF: eigenvalue max rel diff and min |r| over the top 5 PCs
  paste "$1.eigenval" "$2.eigenval" | awk 'NR<=5 { d=($1-$2)/$2; if (d<0) d=-d; if (d>mx) mx=d } END { printf "{\"eigenvalue_max_rel_diff_top5\":%.3g,", mx }'
  paste "$1.eigenvec" "$2.eigenvec" | awk 'NR>1 { for (k=0;k<5;k++) { x=$(3+k); y=$(15+k); sx[k]+=x; sy[k]+=y; sxx[k]+=x*x; syy[k]+=y*y; sxy[k]+=x*y } n++ }
    END { mn=1; for (k=0;k<5;k++) { r=(sxy[k]-sx[k]*sy[k]/n)/sqrt((sxx[k]-sx[k]^2/n)*(syy[k]-sy[k]^2/n)); if (r<0) r=-r; if (r<mn) mn=r } printf "\"min_abs_r_top5\":%.4f}", mn }'
}
run pca10 enclave "$ENCLAVE" genomics pca --bfile d --pcs 10 --meanimpute --threads "$T" --out e
run pca10 plink2 "$PLINK2" --bfile d --pca 10 approx --threads "$T" --out p2
if [[ "${BENCH_PCA_EXACT:-0}" == 1 ]]; then
  run pca10_exact_plink2 plink2 "$PLINK2" --bfile d --pca 10 --threads "$T" --out p2x
  run pca10_exact_plink19 plink1.9 "$PLINK19" --bfile d --pca 10 --threads "$T" --out p1x
fi
summary pca10 "$(pcacmp e p2)"
