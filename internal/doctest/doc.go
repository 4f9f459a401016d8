// Package doctest holds the test that keeps the README and the package
// documentation honest: every Go snippet they show must be run, verbatim,
// by some test of the repository. It has no code of its own.
package doctest
