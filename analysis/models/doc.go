// Package models fits linear (ordinary least squares) and logistic
// (binomial, logit link) regression models to a design matrix of one row per
// person, and returns only model-level summaries: per-term coefficients,
// standard errors, test statistics, p-values and 95% confidence intervals
// (plus odds ratios for logistic models), and whole-model figures such as
// R², the residual standard error, log-likelihoods, AIC and degrees of
// freedom.
//
// Linear models are solved by a Householder QR decomposition of the design
// (never by forming XᵀX), with standard errors from σ²(XᵀX)⁻¹ = σ²R⁻¹R⁻ᵀ,
// Student t tests on n−p degrees of freedom and t-quantile intervals.
// Logistic models are fitted by iteratively reweighted least squares
// (Newton–Raphson; each step a QR solve of the weighted design), at most 50
// iterations, converging when the relative change in deviance falls below
// 1e-10; they report Wald z tests, normal p-values and coef ± z₀.₉₇₅·SE
// intervals, with odds ratios exp(coef).
//
// Problems that would make a fit meaningless are errors, not silent output:
// too few persons for the number of parameters, a constant or collinear
// predictor, NaN/Inf values, mismatched lengths, a constant outcome, an
// outcome not coded 0/1 (logistic), and complete or quasi-complete
// separation (logistic). Every error is an *Error wrapping one of the Err*
// sentinels (use errors.Is), and its message holds only counts and names,
// never a data value.
//
// Disclosure: the package never returns per-person values. No residuals,
// fitted values, linear predictors, weights, leverages or other row-level
// quantities are exported from a fit (the release rules forbid them); Fit
// holds only aggregate statistics whose size depends on the number of
// parameters, not of persons. Callers remain responsible for applying the
// release rules (minimum cell sizes and the like) to what they publish.
//
// Trust level: trusted kernel side.
package models
